"""Deterministic, realistic-looking Chinese article text for the fake test sites.

Every article draws its own small subset of sentence templates and fills them with its
own place, topic, names and numbers (``random.Random`` seeded with a string, so the text
is identical on every run and every machine). Two articles therefore share few sentences
and are not near-duplicates of each other, while an edited article stays close to its
original. All text is GBK-encodable, so any article can be served as GBK.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime

# (full name, short name) of the 31 provincial-level divisions.
PROVINCES: tuple[tuple[str, str], ...] = (
    ("北京市", "北京"), ("天津市", "天津"), ("河北省", "河北"), ("山西省", "山西"),
    ("内蒙古自治区", "内蒙古"), ("辽宁省", "辽宁"), ("吉林省", "吉林"),
    ("黑龙江省", "黑龙江"), ("上海市", "上海"), ("江苏省", "江苏"), ("浙江省", "浙江"),
    ("安徽省", "安徽"), ("福建省", "福建"), ("江西省", "江西"), ("山东省", "山东"),
    ("河南省", "河南"), ("湖北省", "湖北"), ("湖南省", "湖南"), ("广东省", "广东"),
    ("广西壮族自治区", "广西"), ("海南省", "海南"), ("重庆市", "重庆"), ("四川省", "四川"),
    ("贵州省", "贵州"), ("云南省", "云南"), ("西藏自治区", "西藏"), ("陕西省", "陕西"),
    ("甘肃省", "甘肃"), ("青海省", "青海"), ("宁夏回族自治区", "宁夏"),
    ("新疆维吾尔自治区", "新疆"),
)  # fmt: skip

CQ_DISTRICTS: tuple[str, ...] = (
    "渝中区", "江北区", "沙坪坝区", "九龙坡区", "南岸区", "北碚区", "渝北区", "巴南区",
    "万州区", "涪陵区", "黔江区", "长寿区", "江津区", "合川区", "永川区", "南川区",
    "綦江区", "大足区", "璧山区", "铜梁区", "潼南区", "荣昌区", "开州区", "梁平区",
    "武隆区", "城口县", "丰都县", "垫江县", "忠县", "云阳县", "奉节县", "巫山县",
)  # fmt: skip

# (field, problem) pairs: what an article is about.
TOPICS: tuple[tuple[str, str], ...] = (
    ("违规吃喝", "违规吃喝问题"),
    ("粮食购销", "粮食购销领域腐败问题"),
    ("医疗卫生", "医药领域腐败问题"),
    ("工程建设", "工程建设项目招投标问题"),
    ("国有企业", "国企领域利益输送问题"),
    ("金融", "金融领域违规放贷问题"),
    ("乡村振兴", "惠民富民政策落实中的侵害群众利益问题"),
    ("教育", "教育领域乱收费问题"),
    ("生态环境", "生态环境保护领域失职失责问题"),
    ("基层治理", "群众身边不正之风和腐败问题"),
    ("政法", "政法系统执法不严问题"),
    ("开发区建设", "开发区违规审批问题"),
    ("养老服务", "养老服务领域套取资金问题"),
    ("交通运输", "交通运输领域违规收费问题"),
    ("统计", "统计造假问题"),
    ("作风建设", "形式主义官僚主义问题"),
    ("节日廉洁", "违规收送礼品礼金问题"),
    ("公务用车", "违规使用公车问题"),
    ("高校", "高校基建和采购领域腐败问题"),
    ("自然资源", "违规占用耕地问题"),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余"
GIVEN = (
    "伟", "芳", "军", "勇", "敏", "静", "强", "磊", "洋", "艳", "杰", "涛", "明", "超", "霞",
    "建国", "志强", "海波", "晓东", "国庆", "红梅", "立新", "文华", "春生", "玉兰", "卫东",
    "建华", "振宇", "思远", "雪松",
)  # fmt: skip
# Characters in GBK but not in GB2312: a GBK page containing them cannot be decoded as the
# gb2312 its meta tag declares, only as GBK/GB18030.
GBK_ONLY_NAMES = ("王堃", "李喆", "张昇", "朱镕", "陈堃", "赵喆")

POSITIONS = (
    "发展和改革委员会原副主任", "交通运输厅原厅长", "住房和城乡建设厅原副厅长",
    "人民政府原副市长", "国有资产监督管理委员会原主任", "粮食和物资储备局原局长",
    "卫生健康委员会原副主任", "自然资源厅原一级巡视员",
)  # fmt: skip

LEADS = (
    "{pm}月{pd}日，{org}公开通报{n1}起{problem}典型案例。",
    "{pm}月{pd}日，记者从{org}获悉，{prov}深入开展{field}领域专项整治，取得阶段性成效。",
    "{pm}月{pd}日，{org}召开专题会议，研究部署进一步深化{problem}整治工作。",
    "{pm}月{pd}日，据{org}消息，{prov}{position}{name}涉嫌严重违纪违法，目前正接受纪律审查和监察调查。",
    "{pm}月{pd}日，{prov}召开全省警示教育大会，通报近期查处的{n1}起{problem}。",
)

SENTENCES = (
    "今年以来，{org}聚焦{problem}，累计处置问题线索{n2}件，立案{n1}起。",
    "{org}坚持严的基调不动摇，把整治{problem}作为推进全面从严治党的重要抓手。",
    "截至{month}月底，全省共查处{field}领域违纪违法案件{n2}件，给予党纪政务处分{n1}人。",
    "针对群众反映强烈的{problem}，该省纪检监察机关建立问题清单，逐项明确责任单位和整改时限。",
    "{org}有关负责同志表示，将持续深化标本兼治，推动以案促改、以案促治常态化制度化。",
    "在审查调查中，办案人员坚持依规依纪依法，严格落实安全文明办案各项要求，第{n1}号案件已审结。",
    "调查发现，{name}利用职务上的便利，在{field}项目审批、资金拨付等方面为他人谋取利益，并非法收受财物。",
    "{name}严重违反党的纪律，构成职务违法并涉嫌受贿犯罪，且在党的十八大后不收敛、不收手，应予严肃处理。",
    "依据《中国共产党纪律处分条例》等有关规定，经研究决定，给予{name}开除党籍处分，收缴其违纪所得{n2}万元。",
    "该省纪委监委同步督促相关部门完善制度机制{n1}项，堵塞监管漏洞{n1}个。",
    "{org}派出{n1}个督查组，采取“四不两直”方式深入{n1}个市县开展明察暗访。",
    "对发现的{n2}个问题，督查组当场反馈，并建立台账跟踪督办，确保件件有着落、事事有回音。",
    "全省各级纪检监察机关运用监督执纪“四种形态”批评教育帮助和处理{n3}人次，其中第一种形态占比{pct}%。",
    "{org}注重发挥典型案例警示作用，选取{n1}起典型问题公开通报曝光，释放越往后执纪越严的强烈信号。",
    "在{field}领域，该省聚焦权力集中、资金密集、资源富集的关键环节，开展为期{n1}个月的专项整治。",
    "专项整治开展以来，共追缴违规资金{n3}万元，退还群众{n2}万元。",
    "{org}还会同审计、财政等部门建立协作机制，实现问题线索双向移送、信息共享，今年已移送线索{n2}条。",
    "“我们坚持查处与教育并重，既严肃处理违纪违法问题，又注重做实思想政治工作。”{org}相关负责人{name}说。",
    "据了解，该省今年已对{n2}名新任职领导干部开展任前廉政谈话，对{n1}名一把手开展监督谈话。",
    "针对{problem}易发多发的情况，{org}推动出台{n1}项配套制度，规范权力运行。",
    "该省纪委监委深化运用信息化手段，搭建大数据监督平台，累计比对{field}相关数据{n3}万条。",
    "通过数据碰撞，平台发现疑似问题{n2}个，经核查属实{n1}个，均已依规依纪依法处理。",
    "记者了解到，{prov}将{field}领域突出问题整治纳入年度巡视巡察重点，推动各类监督贯通协同。",
    "巡察组进驻期间，共受理群众来信来访{n2}件次，发现问题{n1}个，移交问题线索{n1}件。",
    "基层纪检监察组织紧盯群众急难愁盼，围绕{field}开展专项监督，推动解决实际问题{n2}个。",
    "“以前办事要跑好几趟，现在一次就能办好。”{prov}一位受访群众告诉记者，身边的变化看得见、摸得着。",
    "{org}要求，各级党组织要切实履行全面从严治党主体责任，一把手要当好第一责任人。",
    "对履职不力、失职失责的，坚决严肃问责，今年以来已问责党组织{n1}个、党员干部{n2}人。",
    "在警示教育中，该省组织党员干部旁听庭审、参观廉政教育基地，参与人数达{n3}人次。",
    "同时，该省注重加强新时代廉洁文化建设，推出廉洁文化作品{n2}件，营造崇廉拒腐的良好氛围。",
    "{name}在接受审查调查期间主动交代问题，认错悔错，依规依纪依法给予从轻处理。",
    "经查，{name}违反中央八项规定精神，{n1}次接受可能影响公正执行公务的宴请，违规收受礼品礼金。",
    "{name}还违反组织纪律，在干部选拔任用工作中为他人谋取利益；违反廉洁纪律，为亲属经营活动谋取利益。",
    "其涉嫌犯罪问题已移送检察机关依法审查起诉，所涉财物{n2}万元随案移送。",
    "{org}第{n1}审查调查室有关负责人介绍，案件查办过程中注重挖掘深层次问题，推动源头治理。",
    "该省还组织开展集中整治行动，对{problem}进行全面排查，覆盖单位{n2}个。",
    "排查中共发现问题{n2}个，已整改到位{n1}个，其余问题正在加快推进整改。",
    "{org}强调，要把严的基调、严的措施、严的氛围长期坚持下去，一体推进不敢腐、不能腐、不想腐。",
    "下一步，{org}将持续加大{field}领域腐败问题查处力度，坚决维护群众切身利益。",
    "据统计，{month}月份全省纪检监察机关共接收信访举报{n3}件次，处置问题线索{n2}件。",
    "驻{field}相关部门纪检监察组结合驻在部门实际，制定监督清单{n1}项，开展蹲点调研{n2}次。",
    "在“室组地”联动办案机制下，多个案件实现快查快结，平均办案周期缩短{pct}%。",
    "{prov}某县纪委监委在日常监督中发现，个别村干部在{field}项目中虚报冒领补贴资金{n2}万元。",
    "经进一步调查核实，相关责任人已被给予党内警告、政务记过等处分，{n2}万元违规资金全部追回。",
    "该省健全完善澄清正名工作机制，今年以来为{n1}名受到不实举报的党员干部澄清正名。",
    "{org}注重做好审查调查“后半篇文章”，向案发单位制发纪律检查建议书、监察建议书{n1}份。",
    "全省纪检监察干部队伍建设持续加强，组织开展业务培训{n1}期，培训干部{n3}人次。",
    "“打铁必须自身硬。”{org}主要负责同志{name}表示，将严格落实“三个规定”，坚决防治“灯下黑”。",
)

TITLES = (
    "{short}快查快处{problem}",
    "{short}：深化{field}领域专项整治",
    "{short}通报{n1}起{problem}典型案例",
    "{short}纪检监察机关聚焦{field}强化监督",
    "{short}：{field}领域{n2}个突出问题完成整改",
    "{short}以案促改推动{field}领域源头治理",
    "{prov}{position}{name}被开除党籍",
    "{short}一体推进{field}领域“三不腐”",
)

KICKERS = ("以案为鉴 深化整改", "聚焦群众急难愁盼", "纠树并举 久久为功", "一线见闻")


@dataclass(frozen=True, slots=True)
class Place:
    """Where an article is set: ``prov`` is a full name, ``org`` the commission's name."""

    prov: str
    short: str
    org: str


def province(index: int) -> Place:
    full, short = PROVINCES[index % len(PROVINCES)]
    org = "北京市纪委市监委" if short == "北京" else f"{short}纪委监委"
    return Place(prov=full, short=short, org=org)


def cq_district(index: int) -> Place:
    district = CQ_DISTRICTS[index % len(CQ_DISTRICTS)]
    return Place(prov=f"重庆市{district}", short=district, org=f"{district}纪委监委")


def person(rng: random.Random, gbk_only: bool = False) -> str:
    if gbk_only:
        return rng.choice(GBK_ONLY_NAMES)
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _slots(
    rng: random.Random, place: Place, topic: tuple[str, str], when: datetime, name: str
) -> dict[str, str]:
    return {
        "prov": place.prov,
        "short": place.short,
        "org": place.org,
        "field": topic[0],
        "problem": topic[1],
        "name": name,
        "position": rng.choice(POSITIONS),
        "n1": str(rng.randint(3, 39)),
        "n2": str(rng.randint(42, 980)),
        "n3": str(rng.randint(1021, 9870)),
        "pct": str(rng.randint(12, 93)),
        "month": str(max(1, when.month - 1)),
        "pm": str(when.month),
        "pd": str(max(1, when.day - 1)),
    }


def make_title(seed: str, place: Place, topic: tuple[str, str], when: datetime, name: str) -> str:
    rng = random.Random(f"title:{seed}")
    return rng.choice(TITLES).format(**_slots(rng, place, topic, when, name))


def make_paragraphs(
    seed: str,
    place: Place,
    topic: tuple[str, str],
    when: datetime,
    min_bytes: int,
    name: str,
    *,
    name_in_lead: bool = False,
    templates_per_article: int = 16,
) -> list[str]:
    """Paragraphs (no indentation) whose UTF-8 size reaches ``min_bytes``; at least 4.

    One article is about one person, ``name``; ``name_in_lead`` makes sure the first
    paragraph names them.
    """
    rng = random.Random(f"body:{seed}")
    chosen = rng.sample(SENTENCES, templates_per_article)
    lead = LEADS[3] if name_in_lead else rng.choice(LEADS)  # LEADS[3] names the person
    paragraphs = [lead.format(**_slots(rng, place, topic, when, name))]
    size = len(paragraphs[0].encode())
    turn = 0
    while size < min_bytes or len(paragraphs) < 4:
        count = 2 + rng.randint(0, 2)
        sentences = []
        for _ in range(count):
            template = chosen[turn % len(chosen)]
            turn += 1
            sentences.append(template.format(**_slots(rng, place, topic, when, name)))
        paragraph = "".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph.encode())
    return paragraphs


def small_edit(paragraphs: list[str]) -> list[str]:
    """A correction as sites make them: the last number in the body goes up by one.

    The result is a near-duplicate of the original (a few characters differ).
    """
    out = list(paragraphs)
    for i in range(len(out) - 1, -1, -1):
        numbers = list(re.finditer(r"\d+", out[i]))
        if numbers:
            m = numbers[-1]
            out[i] = f"{out[i][: m.start()]}{int(m.group()) + 1}{out[i][m.end() :]}"
            return out
    out[-1] += "（有更正）"
    return out
