"""The crawler: the Scrapy crawl of a site, the pure article extractor, the link checker.

Owns, at this top level, the Scrapy crawl of one site for one recorded run: ``runner``
(Scrapy's settings and process), ``spider`` (list pages, then article pages), ``listing``
(list-page parsing), ``offload`` and ``extraction`` (extraction in a worker process),
``items``, ``pipeline`` and ``recorder`` (what the run stores and records), ``passes``
(resumable start URLs), ``selector_stats`` (selector drift) and ``site`` (the site's and the
crawl's configuration values, built by ``scheduler.config``).  Subpackages:

- ``extract/`` — the pure extractor: bytes + URL in, article out;
- ``net/`` — how govwatch talks to a host (address policy, guarded resolver, one-page fetch,
  cookie rules and jars), shared by the crawl and the link checker;
- ``guards/`` — the crawl's Scrapy middlewares against sites that refuse it;
- ``linkcheck/`` — the aiohttp link checker.

May import: ``storage``; within ``crawler``, the crawl and its guards import ``extract``,
``net`` and ``site``; the link checker imports ``extract``, ``net`` and ``site``; ``net``
imports ``extract`` and ``site``; ``extract`` imports nothing of ours.  Never ``digest``,
``scheduler`` (the contracts in ``pyproject.toml``, run by ``lint-imports``).
"""
