"""``python -m scheduler`` is ``govwatch``."""

from __future__ import annotations

from scheduler.cli import run

run()
