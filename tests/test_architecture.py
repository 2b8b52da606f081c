"""The architecture as written in ``pyproject.toml``'s import-linter contracts holds, and the
contracts cover the code there is.

- ``lint-imports`` (a real process, as CI runs it) keeps every contract;
- it breaks them when an import goes the wrong way (on a copy of the packages with one
  forbidden import added), so the contracts are not vacuous;
- every package of the project is a root of the contracts, every module at ``crawler/``'s
  top level is named in them (a new one must be placed on purpose), and there are no more
  than a dozen of them; every subpackage of ``crawler`` says in its docstring what it owns
  and what it may import;
- no module imports the package it belongs to when that package re-exports its modules
  (``from storage.repository import dedupe`` in ``storage/repository/articles.py`` made the
  package and its module import each other).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _pyproject() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _contracts() -> list[dict[str, Any]]:
    return list(_pyproject()["tool"]["importlinter"]["contracts"])


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},  # one line per contract
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_contracts_are_kept() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("crawler/extract/dom.py", "import crawler.site", "crawler.extract is pure"),
        ("crawler/extract/pubtime.py", "import storage.records", "crawler.extract is pure"),
        ("digest/render.py", "import crawler.extract.textclean", "storage <- crawler"),
        ("storage/text.py", "import crawler", "storage <- crawler"),
        ("crawler/linkcheck/state.py", "import crawler.recorder", "crawler.linkcheck imports"),
        ("crawler/net/ssrf.py", "import crawler.linkcheck.records", "crawler.net imports"),
        ("crawler/guards/hostpace.py", "import crawler.linkcheck.records", "the crawl imports"),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    for package in ("storage", "crawler", "digest", "scheduler"):
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert len(broken) == 1 and broken[0].startswith(contract), result.stdout


def test_contracts_cover_every_package_and_crawl_module() -> None:
    pyproject = _pyproject()
    roots = set(pyproject["tool"]["importlinter"]["root_packages"])
    packages = {
        pattern.rstrip("*")
        for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert roots == packages
    top = sorted(
        f"crawler.{path.stem}"
        for path in (REPO / "crawler").glob("*.py")
        if path.stem != "__init__"
    )
    assert len(top) <= 12, top
    (crawl,) = [c for c in _contracts() if c["name"].startswith("the crawl imports")]
    assert set(crawl["source_modules"]) == {*top, "crawler.guards", "crawler.store"}
    (pure,) = [c for c in _contracts() if c["name"].startswith("crawler.extract is pure")]
    subpackages = {
        f"crawler.{path.parent.name}" for path in (REPO / "crawler").glob("*/__init__.py")
    }
    assert set(pure["forbidden_modules"]) >= {*top, *(subpackages - {"crawler.extract"})}


@pytest.mark.parametrize(
    "package", sorted(p.parent.name for p in (REPO / "crawler").glob("*/__init__.py"))
)
def test_each_crawler_subpackage_says_what_it_owns_and_may_import(package: str) -> None:
    source = (REPO / "crawler" / package / "__init__.py").read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert "May import:" in docstring, package
    assert len(docstring.splitlines()) >= 3, package


def _reexporting_packages() -> set[str]:
    """Packages whose ``__init__`` imports their own modules (``storage.repository``)."""
    found = set()
    for package in ("storage", "crawler", "digest", "scheduler"):
        for init in (REPO / package).rglob("__init__.py"):
            name = ".".join(init.relative_to(REPO).parent.parts)
            tree = ast.parse(init.read_text(encoding="utf-8"))
            if any(
                isinstance(node, ast.ImportFrom) and (node.module or "").startswith(name + ".")
                for node in ast.walk(tree)
            ):
                found.add(name)
    return found


def test_no_module_imports_its_own_reexporting_package() -> None:
    reexporting = _reexporting_packages()
    assert "storage.repository" in reexporting
    offenders = []
    for package in ("storage", "crawler", "digest", "scheduler"):
        for path in (REPO / package).rglob("*.py"):
            if path.name == "__init__.py" or "migrations" in path.parts:
                continue
            parts = path.relative_to(REPO).parent.parts
            parents = {".".join(parts[:n]) for n in range(1, len(parts) + 1)} & reexporting
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in parents:
                    offenders.append(f"{path.relative_to(REPO)}: from {node.module} import ...")
    assert offenders == []
