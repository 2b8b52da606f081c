"""``storage.status_reads`` names its tables with Core's lightweight ``table()`` so that
``govwatch status`` need not import the models: every table and column it names must exist in
``storage.models`` with a type of the same kind, or status would fail only at run time."""

from __future__ import annotations

from sqlalchemy import Integer, String, column, table
from sqlalchemy.sql.expression import TableClause

import storage.status_reads as reads
from storage.models import Base
from storage.types import UTCDateTime


def _mismatches(t: TableClause) -> list[str]:
    if t.name not in Base.metadata.tables:
        return [f"no table {t.name}"]
    model = Base.metadata.tables[t.name]
    out = []
    for col in t.columns:
        if col.name not in model.c:
            out.append(f"no column {t.name}.{col.name}")
            continue
        kind = model.c[col.name].type
        for light_type in (UTCDateTime, Integer):
            if isinstance(col.type, light_type) and not isinstance(kind, light_type):
                out.append(f"{t.name}.{col.name} is {kind!r}")
        if isinstance(col.type, String) and kind.python_type is not str:
            out.append(f"{t.name}.{col.name} is {kind!r}")
    return out


def test_every_light_table_matches_the_models() -> None:
    light = [v for v in vars(reads).values() if isinstance(v, TableClause)]
    assert len(light) >= 10
    assert [m for t in light for m in _mismatches(t)] == []


def test_the_check_sees_a_wrong_name_or_type() -> None:
    assert _mismatches(table("crawl_runs", column("no_such_column", Integer))) == [
        "no column crawl_runs.no_such_column"
    ]
    assert _mismatches(table("crawl_runs", column("started_at", Integer))) != []
    assert _mismatches(table("no_such_table", column("id", Integer))) == ["no table no_such_table"]
