"""A run keeps no state per stored article: memory flat in the number of pages.

What a run must remember of an article (its validators, which start URL found it) is saved
or dropped when the article's batch is stored, not kept until the run ends.
"""

from __future__ import annotations

import re

from crawler.extract.fingerprint import fingerprint
from crawler.recorder import RunRecorder
from crawler.site import Site
from crawler.store.local import LocalStore
from storage import repository
from storage.database import Database
from storage.records import NewArticle, Validators

SITE = Site(
    name="local",
    title="local",
    start_urls=("http://127.0.0.1:9/list/",),
    article_url_pattern=re.compile(r"/a/"),
)


def article(site_id: int, n: int) -> NewArticle:
    body = f"第{n}篇通报。" + "某某单位违规发放津贴补贴，相关责任人受到党纪处分。" * (3 + n % 5)
    prints = fingerprint(body)
    url = f"http://127.0.0.1:9/a/{n}.html"
    return NewArticle(
        site_id=site_id,
        url=url,
        fetched_url=url,
        title=f"通报{n}",
        publish_time=None,
        source=None,
        author=None,
        body=body,
        body_hash=prints.body_hash,
        bands=prints.bands,
    )


def test_stored_articles_leave_no_state_in_the_run(db: Database) -> None:
    recorder = RunRecorder.start(LocalStore(db), SITE)
    batches = [[article(recorder.site_id, n) for n in range(k * 20, k * 20 + 20)] for k in range(5)]
    for batch in batches:
        for a in batch:
            recorder.passes.article(a.url, 0, resumed=True)
            recorder.remember_validators(
                Validators(url=a.url, etag=f'"{a.url}"', last_modified=None), list_page=False
            )
        assert recorder.store(batch) == 20
        # nothing of the stored batch stays behind
        assert recorder.article_validators == {}
        assert recorder.passes.article_start == {} and recorder.passes.resumed == set()
    assert recorder.stored == 100 and recorder.passes.recovered == 100
    # the validators were saved as the batches were stored, before the run finished
    urls = [a.url for batch in batches for a in batch]
    with db.session() as session:
        saved = repository.get_validators(session, urls)
    assert sorted(saved) == sorted(urls)
    assert saved[urls[7]].etag == f'"{urls[7]}"'
    assert recorder.finish("finished", 1.0).totals.articles_new == 100


def test_an_article_not_stored_keeps_its_start(db: Database) -> None:
    # a batch that fails is recorded as failed pages of their start URL: that needs the books
    recorder = RunRecorder.start(LocalStore(db), SITE)
    stored, waiting = article(recorder.site_id, 1), article(recorder.site_id, 2)
    for a in (stored, waiting):
        recorder.passes.article(a.url, 0, resumed=False)
    recorder.store([stored])
    assert recorder.passes.start_of(stored.url) is None
    assert recorder.passes.start_of(waiting.url) == 0
