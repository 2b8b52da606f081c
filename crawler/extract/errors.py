"""The extractor's one error: input it cannot treat as an HTML document.

Its own class, outside the project's tree (:mod:`storage.errors`), because the extractor
imports nothing of govwatch's: it is a plain function of bytes and a URL.  Who handles it:
the spider (:mod:`crawler.spider`) records the page as a ``parse`` error of the run, and
``govwatch extract`` (``scheduler.commands``) prints it as the file's error.
"""

from __future__ import annotations


class ExtractError(Exception):
    """The extractor was given input it cannot treat as an HTML document (empty, binary,
    another format); the message is one line."""
