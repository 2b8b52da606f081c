"""The extraction workers (crawler.offload): real forked workers answering over their sockets
to a real Twisted reactor, in a probe process.

The probe puts its own function in place of ``extract_page`` before the workers are forked
(they inherit it), so that a page can fail in a way no real page does on demand: an error
that does not pickle, a worker that dies in the middle of the crawl.  What is under test is
the offload: which answer reaches which page, errors, a lost worker, the workers' end.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_code

PROBE = r"""
import json, logging, os, sys, threading
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
import crawler.offload as offload

PARENT = os.getpid()
WORKERS = int(sys.argv[1])
MODE = sys.argv[2]

class Unpicklable(Exception):
    def __init__(self, text):
        super().__init__(text)
        self.hook = lambda: None  # a lambda does not pickle

def fake_extract(body, url, content_type, selectors):
    n = int(url.rsplit("/", 1)[1])
    if n == 7:
        raise ValueError("page 7 is bad")
    if n == 11:
        raise Unpicklable("page 11 is odd")
    if MODE == "crash" and n == 20 and os.getpid() != PARENT:
        try:  # the first worker to get page 20 dies of it
            os.close(os.open(sys.argv[3], os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
        else:
            os._exit(3)
    return {"url": url, "body": body.decode(), "pid": os.getpid()}

offload.extract_page = fake_extract
if MODE == "threads":
    threading.Thread(target=threading.Event().wait, daemon=True).start()
extractor = offload.PageExtractor(WORKERS)
pids = [w.pid for w in extractor._workers]

from twisted.internet import defer, reactor

answers = {}

def note(result, n):
    if isinstance(result, dict):
        answers[n] = result
    else:
        answers[n] = {"error": f"{type(result.value).__name__}: {result.value}"}

@defer.inlineCallbacks
def crawl():
    pending = []
    for n in range(60):
        d = extractor.extract(f"page {n}".encode(), f"http://h/{n}", None, None)
        pending.append(d.addBoth(note, n))
    yield defer.DeferredList(pending)
    reactor.stop()

reactor.callWhenRunning(crawl)
reactor.run()
left = len(extractor._workers)
extractor.close()
reaped = []
for pid in pids:
    try:
        os.waitpid(pid, os.WNOHANG)
        reaped.append(False)
    except ChildProcessError:
        reaped.append(True)
print(json.dumps({"answers": answers, "parent": PARENT, "pids": pids, "left": left,
                  "reaped": reaped}))
"""


def probe(
    workers: int, mode: str = "plain", flag: Path | None = None
) -> tuple[dict[str, object], str]:
    result = run_code(PROBE, str(workers), mode, str(flag))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1]), result.stderr


def answers_of(outcome: dict[str, object]) -> dict[int, dict[str, object]]:
    answers = outcome["answers"]
    assert isinstance(answers, dict)
    return {int(n): a for n, a in answers.items()}


def test_every_page_gets_its_own_answer_from_the_workers_and_errors_come_back_as_themselves() -> (
    None
):
    outcome, _ = probe(2)
    answers = answers_of(outcome)
    assert sorted(answers) == list(range(60))
    for n, answer in answers.items():
        if n == 7:
            assert answer == {"error": "ValueError: page 7 is bad"}
        elif n == 11:  # its exception does not pickle: said as one line
            assert answer == {"error": "RuntimeError: Unpicklable: page 11 is odd"}
        else:
            assert answer["url"] == f"http://h/{n}"
            assert answer["body"] == f"page {n}"
    pids = outcome["pids"]
    assert isinstance(pids, list) and len(pids) == 2
    extracted_by = {a["pid"] for a in answers.values() if "pid" in a}
    assert extracted_by == set(pids)  # both workers worked, the crawl process did not
    assert outcome["reaped"] == [True, True]  # close() ended and reaped them


def test_a_worker_that_dies_leaves_its_pages_to_the_other_one_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    outcome, err = probe(2, "crash", tmp_path / "died")
    answers = answers_of(outcome)
    assert sorted(answers) == list(range(60))
    assert all(answers[n]["url"] == f"http://h/{n}" for n in answers if n not in (7, 11))
    assert outcome["left"] == 1
    assert "extraction worker failed (pid" in err and "exited with 3): 1 worker(s) left" in err
    # page 20 killed the first worker it reached; the other one extracted it
    pids = outcome["pids"]
    assert isinstance(pids, list)
    assert answers[20]["pid"] in pids
    assert answers[59]["pid"] == answers[20]["pid"]
    assert outcome["reaped"] == [True, True]


def test_the_last_worker_lost_leaves_every_page_to_the_crawl_process(tmp_path: Path) -> None:
    outcome, err = probe(1, "crash", tmp_path / "died")
    answers = answers_of(outcome)
    assert sorted(answers) == list(range(60))
    assert "exited with 3): extracting in the crawl process" in err
    assert {answers[n]["pid"] for n in range(20, 60) if n != 11} == {outcome["parent"]}
    pids = outcome["pids"]
    assert isinstance(pids, list) and len(pids) == 1
    assert {answers[n]["pid"] for n in range(12, 20)} == set(pids)
    assert answers[11] == {"error": "RuntimeError: Unpicklable: page 11 is odd"}


def test_an_extractor_created_while_threads_run_forks_no_worker() -> None:
    outcome, err = probe(1, "threads")
    answers = answers_of(outcome)
    assert outcome["pids"] == []
    assert "extraction in the crawl process: created with threads running" in err
    assert {a["pid"] for a in answers.values() if "pid" in a} == {outcome["parent"]}
