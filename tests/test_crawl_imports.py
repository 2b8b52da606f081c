"""A crawl process loads what a crawl uses: the import graph of its Scrapy set-up.

Scrapy's default extensions import their modules even when a setting turns them off (the
remote control its aiohttp server, the telnet console ``twisted.conch``); govwatch's crawls
leave the unused ones out.  Scrapy's TLS factory modules are imported early, with the
deprecated aliases they define still named after their own module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# builds a crawler with govwatch's settings and its extensions, then reports what loaded
_PROBE = """
import json, sys
from scrapy.extension import ExtensionManager
from scrapy.utils.misc import load_object
from crawler.runner import UNUSED_EXTENSIONS, scrapy_settings
from crawler.site import CrawlSettings

settings = scrapy_settings(CrawlSettings())
# what Scrapy's extension manager loads, the way it reads the setting (Scrapy 2.13+ imports
# every key of EXTENSIONS, a disabled one too, to normalise it)
paths = ExtensionManager._get_mwlist_from_settings(settings)
extensions = [load_object(path) for path in paths]
import scrapy.core.downloader.contextfactory as factories
print(json.dumps({
    "modules": sorted(sys.modules),
    "extensions": [cls.__module__ for cls in extensions],
    "unused": list(UNUSED_EXTENSIONS),
    "alias_module": factories.ScrapyClientContextFactory.__module__,
}))
"""


def probe() -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_unused_scrapy_extensions_are_never_imported() -> None:
    data = probe()
    modules = set(data["modules"])  # type: ignore[call-overload]
    assert "scrapy.extensions.logcount" in data["extensions"]  # type: ignore[operator]
    for path in data["unused"]:  # type: ignore[attr-defined]
        assert path.rsplit(".", 1)[0] not in modules, path
    assert not {m for m in modules if m == "aiohttp" or m.startswith("aiohttp.")}
    assert not {m for m in modules if m.startswith("twisted.conch")}
    assert "numpy" not in modules  # the extraction worker's, not the crawl process's


def test_scrapy_tls_aliases_keep_their_module_name() -> None:
    assert probe()["alias_module"] == "scrapy.core.downloader.contextfactory"
