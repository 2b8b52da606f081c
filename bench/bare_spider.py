"""The baseline of bench/crawl.py: a bare Scrapy spider that only fetches the site.

Usage: python bench/bare_spider.py START_URL MAX_LIST_PAGES ARTICLE_URL_REGEX
Same politeness as govwatch (robots.txt, one request per host at a time, no delay) and the
same fastest reactor; it follows the list pages and fetches every article, and does nothing
with what it fetches.  Prints the number of pages fetched.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator, Iterator

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

# The reactor govwatch uses (crawler.runner.fastest_reactor), named here: importing
# crawler.runner for it loaded govwatch's whole crawl stack (SQLAlchemy, the repository,
# lxml: ~970 modules) into the baseline, which made bare Scrapy look larger and slower.
REACTOR = "twisted.internet.epollreactor.EPollReactor"

START, MAX_PAGES = sys.argv[1], int(sys.argv[2])
PATTERN = re.compile(sys.argv[3])
counts = {"pages": 0}


class Bare(scrapy.Spider):
    name = "bare"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(START, callback=self.parse_list, cb_kwargs={"n": 0})

    def parse_list(self, response: Response, n: int) -> Iterator[scrapy.Request]:
        counts["pages"] += 1
        for href in response.css(".list_news_dl2 li a::attr(href)").getall():
            url = response.urljoin(href)
            if PATTERN.search(url):
                yield scrapy.Request(url, callback=self.parse_article)
        m = re.search(r"createPageHTML\((\d+),\s*(\d+)", response.text)
        if m and int(m.group(2)) + 1 < int(m.group(1)) and n + 1 < MAX_PAGES:
            nxt = response.urljoin(f"index_{int(m.group(2)) + 1}.html")
            yield scrapy.Request(nxt, callback=self.parse_list, cb_kwargs={"n": n + 1})

    def parse_article(self, response: Response) -> None:
        counts["pages"] += 1


process = CrawlerProcess(
    {
        "TWISTED_REACTOR": REACTOR,
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": 0,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "USER_AGENT": "govwatch-bench",
    }
)
process.crawl(Bare)
process.start()
print(counts["pages"])
