"""The article extractor: pure functions, bytes + URL in, article out.

Owns: decoding (``decode``, ``charsets``, ``sniff``), parsing and the DOM helpers (``dom``),
the article (``article.extract_article``: ``heading``, ``infoline``, ``pubtime``,
``byline``, ``credits``, ``body``, ``boilerplate``, per-site selectors ``selectors`` and
``site_selectors``), what kind of page it is (``pagekind``), its links (``links``), canonical
URLs (``canonical``), body fingerprints for dedupe (``fingerprint``), the values it returns
(``records``) and its one error (``errors.ExtractError``).  No network, no database, no
Scrapy: the crawl, the link checker and ``govwatch extract`` call it alike.

May import: nothing of ours, but ``storage.text`` (through ``textclean``: the one table of
characters unsafe to store and print, which ``digest`` uses too).  Its ``__init__`` imports
nothing, so that loading one value module does not load the extractor (``tests/test_startup``).
"""
