"""The read-only web view: ``govwatch serve`` (and ``govwatch run --http``).

Server-rendered pages (Jinja2, autoescaped, no JavaScript) over the stored articles, dead
links, sites and digests, a JSON API behind each page (``/api/...``) and Atom feeds.  Built
on ``aiohttp.web``; database reads run in a small thread pool on a database the caller opened
read-only (``storage.database.Database(read_only=True)``).

Imports: ``web`` ← ``storage`` only (plus third-party libraries).  ``scheduler`` reads the
``[web]`` settings and wires the application (``web.app.build_app``) into its commands.
"""
