"""The crawl's guards: Scrapy pieces for sites that refuse crawlers, and for hostile answers.

Owns: the address guard on every request and redirect hop (``addressguard``), backoff
retries (``retry``) and the per-host pace (``hostpace``), JavaScript challenges
(``challenge``, solved in headless Chromium by ``browser``), cookie replay (``cookiejar``)
and a site's browser cookie (``sitecookie``), the bound on response headers
(``headerlimit``), and why a run was blocked (``blocking``, read back by ``govwatch status``
and ``/metrics``).

May import: ``crawler.extract``, ``crawler.net``, ``crawler.site`` and ``storage``; never
``crawler.linkcheck``.  The crawl's runner installs these pieces by their dotted paths.
"""
