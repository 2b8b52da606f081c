"""The crawl command's database preparation in a forked child (scheduler.forked_open)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from scheduler.forked_open import start_in_child
from storage.errors import SchemaError


def test_the_child_does_the_work_in_its_own_process(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    wait = start_in_child(lambda: marker.write_text(str(os.getpid())))
    wait()
    assert int(marker.read_text()) != os.getpid()


def test_an_error_of_govwatch_is_raised_in_the_parent() -> None:
    def fail() -> None:
        raise SchemaError("database x has schema revision 9999, newer than this govwatch knows")

    wait = start_in_child(fail)
    with pytest.raises(SchemaError, match="revision 9999"):
        wait()


def test_another_error_or_a_killed_child_leaves_the_work_to_the_parent(tmp_path: Path) -> None:
    def crash() -> None:
        raise RuntimeError("not ours")

    start_in_child(crash)()  # nothing raised: the parent's own opening reports it

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    start_in_child(die)()
