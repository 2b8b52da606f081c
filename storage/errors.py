"""The project's exception tree.

Every error govwatch raises on purpose derives from :class:`GovwatchError`.  It lives in
``storage`` because ``storage`` is the leaf package that every other package may import;
keeping the base here gives one tree without an import cycle.

Who raises and who handles:

- :class:`ConfigError` — raised by ``scheduler.config`` for a bad configuration file or value;
  the CLI prints its one line and exits with status 2.
- :class:`UsageError` — raised by the CLI for bad command-line input (unknown site, bad date);
  printed as one line, exit status 2.
- :class:`StorageError` — raised by ``storage`` when the database cannot be reached, its schema
  is missing or too old, or a query fails; the CLI prints it and exits with status 1, a
  service job records it and carries on.
- :class:`FetchError` — raised by the crawler when a site cannot be fetched at all; recorded on
  the crawl run.
- The extractor's ``ExtractError`` (input it cannot treat as HTML) is not in this tree: the
  extractor imports nothing of ours (``crawler/extract/errors.py``); the spider records it
  as a page's error and ``govwatch extract`` prints it.
- :class:`ServiceError` — raised by ``govwatch run`` when the service cannot start (its
  ``--http`` address is taken) or loses its leadership; the CLI prints it and exits with 1.
"""

from __future__ import annotations


class GovwatchError(Exception):
    """Base of every error govwatch raises on purpose; its message is one line for users."""


class ConfigError(GovwatchError):
    """The configuration file or a value in it is invalid (exit status 2)."""


class UsageError(GovwatchError):
    """Bad command-line input, such as an unknown site name or a malformed date (exit 2)."""


class StorageError(GovwatchError):
    """The database is unreachable, its schema is missing or outdated, or a query failed."""


class SchemaError(StorageError):
    """The database schema is missing or older than this version of govwatch expects."""


class FetchError(GovwatchError):
    """A site or page could not be fetched (network error, refused, blocked)."""


class ServiceError(GovwatchError):
    """The background service cannot start, or lost the lock that makes it the leader."""
