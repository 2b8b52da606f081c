"""How govwatch talks to a host, shared by the crawl and the link checker.

Owns: the address policy every fetch asks (``addresses``: may govwatch connect to this
host?), its aiohttp resolver (``ssrf``), the one-page fetch of ``govwatch extract URL``
(``fetch``), and cookies: the named per-site cookie rules (``cookierules``), cookies set by
pages' inline scripts (``scriptcookies``) and the jars and stored host cookies both clients
keep (``hostcookies``); and Scrapy's meta refresh, without decoding every page to look for
one (``metarefresh``).

May import: ``crawler.extract``, ``crawler.site`` (configuration values) and ``storage``;
never the crawl's other modules, ``crawler.guards`` or ``crawler.linkcheck``.
"""
