"""Where a crawl's records go: the database, through one :class:`~crawler.store.calls.CrawlStore`.

Owns: the calls a crawl makes to its database (``calls``), made in the calling process
(``local``: tests, and the crawl command's fallback) or in the database child the crawl
command forks before it imports Scrapy (``child``).  The child creates or upgrades the schema,
then serves the calls, so the crawl process never imports SQLAlchemy, the ORM or the driver
(a third of its start-up) and the writes run beside the crawl, on the other core.

May import: ``storage`` and, for a new article's story comparison, ``crawler.extract`` (and
``crawler.extraction``'s worker start-up, which the child shares); never Scrapy, Twisted,
``crawler.guards`` or ``crawler.linkcheck``.
"""
