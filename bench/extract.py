#!/usr/bin/env python3
"""Benchmark govwatch's article extractor against trafilatura and gne on the real-page corpus.

Usage (from the repository root):

    .venv/bin/python bench/extract.py [--corpus DIR] [--pages] [--sample N]

Reads ``../shared/corpus`` (``manifest.json``, ``pages/``, ``truth/``, ``score.py``).  On the
dev pages (the ones with truth) it runs govwatch, trafilatura and gne, scores each with the
corpus's own ``score.py`` and prints a side-by-side table.  On the holdout pages (no truth)
(``holdout``, ``holdout2``) it runs govwatch alone and counts how many pages got a title, a
time, a source, an author and a body of at least 200 characters; ``--sample N`` prints N of
them to eyeball.

Every extractor is given the same text (the page decoded by govwatch's ``decode_html``) and
the page URL when the manifest knows it; times from trafilatura and gne are normalised to
ISO with govwatch's time parser so that formatting is not what is scored (``--raw-times``
scores them as printed, which is how the corpus README's reference figures were made).
ms/page is the wall time of the extraction call (parsing included), mean over the dev pages.

Exits 0 with a message when the corpus is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
sys.path.insert(0, str(REPO))

from crawler.extract.article import extract_article  # noqa: E402
from crawler.extract.decode import decode_html  # noqa: E402
from crawler.extract.pubtime import parse_time  # noqa: E402

Prediction = dict[str, Any]
Extractor = Callable[[str, bytes, str], Prediction]


def _govwatch(text: str, raw: bytes, url: str) -> Prediction:
    art = extract_article(raw, url)
    when = art.publish_time
    return {
        "title": art.title,
        # a time of day the page did not show is not predicted (the date alone is)
        "publish_time": (
            None
            if when is None
            else when.date().isoformat()
            if art.publish_time_precision in ("day", "url")
            else when.isoformat()
        ),
        "source": art.source,
        "author": art.author,
        "body": art.body,
    }


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    parsed = parse_time(str(value))
    return parsed.isoformat() if parsed else str(value)


def _trafilatura(text: str, raw: bytes, url: str) -> Prediction:
    import trafilatura

    doc = trafilatura.bare_extraction(text, url=url or None, with_metadata=True, as_dict=True)
    doc = doc if isinstance(doc, dict) else {}
    return {
        "title": doc.get("title"),
        "publish_time": doc.get("date"),
        "source": None,  # trafilatura has no 来源 field ("sitename" is the site, not the source)
        "author": doc.get("author"),
        "body": doc.get("text") or "",
    }


_GNE: Any = None


def _gne(text: str, raw: bytes, url: str) -> Prediction:
    global _GNE
    if _GNE is None:
        from gne import GeneralNewsExtractor

        _GNE = GeneralNewsExtractor()
    try:
        res = _GNE.extract(text)
    except Exception:
        res = {}
    return {
        "title": res.get("title"),
        "publish_time": res.get("publish_time"),
        "source": None,  # gne has no 来源 field
        "author": res.get("author"),
        "body": res.get("content") or "",
    }


EXTRACTORS: dict[str, Extractor] = {
    "govwatch": _govwatch,
    "trafilatura": _trafilatura,
    "gne": _gne,
}


def _normalised(fn: Extractor) -> Extractor:
    """``fn`` with its publish time rewritten as ISO by govwatch's time parser."""

    def run(text: str, raw: bytes, url: str) -> Prediction:
        pred = fn(text, raw, url)
        pred["publish_time"] = _iso(pred.get("publish_time"))
        return pred

    return run


def _load_scorer(corpus: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_score", corpus / "score.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {corpus / 'score.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(
    name: str, fn: Extractor, pages: list[dict[str, Any]], corpus: Path
) -> tuple[list[Prediction], float]:
    preds: list[Prediction] = []
    times: list[float] = []
    for entry in pages:
        raw = (corpus / "pages" / entry["file"]).read_bytes()
        text = decode_html(raw).text
        url = entry.get("url_if_known") or ""
        t0 = time.perf_counter()
        try:
            pred = fn(text, raw, url)
        except Exception as exc:
            print(f"  {name} failed on {entry['file']}: {exc!r}", file=sys.stderr)
            pred = {}
        times.append((time.perf_counter() - t0) * 1000)
        pred["file"] = entry["file"]
        preds.append(pred)
    return preds, statistics.mean(times) if times else 0.0


def _score(scorer: ModuleType, corpus: Path, preds: list[Prediction]) -> tuple[list, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "preds.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for p in preds:
                fh.write(json.dumps(p, ensure_ascii=False) + "\n")
        rows, summary = scorer.score(scorer.load_predictions(str(path)), str(corpus / "truth"))
    return rows, summary


def _fmt(value: object, pct: bool = True) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and pct:
        return f"{value:.2f}"
    return str(value)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--pages", action="store_true", help="print per-page scores for govwatch")
    ap.add_argument("--sample", type=int, default=0, help="print N holdout extractions")
    ap.add_argument("--only", choices=sorted(EXTRACTORS), action="append", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--raw-times",
        action="store_true",
        help="score trafilatura's and gne's times as they print them (not normalised to ISO)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")

    corpus: Path = args.corpus
    if not (corpus / "manifest.json").is_file():
        print(f"corpus not found at {corpus}; skipping the extraction benchmark")
        return 0
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    scorer = _load_scorer(corpus)
    dev = [e for e in manifest if e.get("split") == "dev" and e.get("kind") == "article"]
    holdouts = {
        split: [e for e in manifest if e.get("split") == split and e.get("kind") == "article"]
        for split in ("holdout", "holdout2")
    }

    names = args.only or list(EXTRACTORS)
    results: dict[str, tuple[dict, float]] = {}
    for name in names:
        fn = EXTRACTORS[name]
        if name != "govwatch" and not args.raw_times:
            fn = _normalised(fn)
        preds, ms = _run(name, fn, dev, corpus)
        rows, summary = _score(scorer, corpus, preds)
        results[name] = (summary, ms)
        if args.pages and name == "govwatch":
            for r in rows:
                mark = {True: "y", False: "n", None: "-"}
                print(
                    f"{r['file']:22} title {mark[r['title_ok']]} date {mark[r['date_ok']]} "
                    f"source {mark[r['source_ok']]} author {mark[r.get('author_ok')]} "
                    f"body {r['body_f1']:.3f}"
                )

    print(f"\nDev pages: {len(dev)} (scored by {corpus / 'score.py'})\n")
    header = (
        f"{'extractor':12} {'title':>6} {'time':>6} {'source':>6} {'author':>6} "
        f"{'F1 mean':>8} {'F1 min':>7} {'<0.8':>5} {'ms/page':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, (s, ms) in results.items():
        print(
            f"{name:12} {_fmt(s['title']):>6} {_fmt(s['date']):>6} {_fmt(s['source']):>6} "
            f"{_fmt(s.get('author')):>6} "
            f"{s['body_f1_mean']:>8.3f} {s['body_f1_min']:>7.3f} {s['pages_below_0.8']:>5} "
            f"{ms:>8.1f}"
        )

    if "govwatch" in names:
        for split, pages in holdouts.items():
            if pages:
                _holdout(split, pages, corpus, args.sample, args.seed)
    return 0


def _holdout(split: str, pages: list[dict[str, Any]], corpus: Path, sample: int, seed: int) -> None:
    got = {"title": 0, "time": 0, "source": 0, "author": 0, "body": 0}
    precision: dict[str, int] = {}
    extracted = []
    for entry in pages:
        raw = (corpus / "pages" / entry["file"]).read_bytes()
        art = extract_article(raw, entry.get("url_if_known") or "")
        extracted.append((entry["file"], art))
        got["title"] += bool(art.title)
        got["time"] += art.publish_time is not None
        if art.publish_time_precision:
            precision[art.publish_time_precision] = precision.get(art.publish_time_precision, 0) + 1
        got["source"] += bool(art.source)
        got["author"] += bool(art.author)
        got["body"] += len(art.body) >= 200
    n = len(pages)
    print(
        f"\n{split.capitalize()} pages: {n} (no truth): title {got['title']}/{n}, "
        f"time {got['time']}/{n} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(precision.items()))}), "
        f"source {got['source']}/{n}, author {got['author']}/{n}, "
        f"body >= 200 chars {got['body']}/{n}"
    )
    if sample:
        rng = random.Random(seed)
        for file, art in rng.sample(extracted, min(sample, len(extracted))):
            body = art.body.replace("\n", " / ")
            when = f"{art.publish_time} ({art.publish_time_precision})"
            print(f"\n== {file}\n title: {art.title}\n time: {when}")
            print(f" source: {art.source} author: {art.author}")
            print(f" body[{len(art.body)}]: {body[:160]} … {body[-120:]}")


if __name__ == "__main__":
    sys.exit(main())
