"""The link checker: is every link the crawl found still alive?

Owns: the check run (``checker.run_link_checks``: which links are due, concurrent checks,
the report), the fetcher (``fetch``: HEAD then GET, per-host limits, redirects followed by
hand under the address policy), what an answer means (``classify``: ok, redirected, dead,
soft 404, error, blocked, refused), a link's state over checks (``state``: the dead
threshold) and the values it hands over (``records``).

May import: ``crawler.extract``, ``crawler.net``, ``crawler.site`` (the default User-Agent)
and ``storage``; never the Scrapy crawl (``crawler``'s other modules, ``crawler.guards``).
"""
