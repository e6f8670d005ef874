"""The layout of the design card: the dashboards on the top floor import the domain apps and no
domain app imports them; the plan's core imports no domain app; the README's layout table names
what is in the tree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
DOMAIN_APPS = ("retrofits", "acceptance", "energy_supply")
# heating's top floor: the dashboards and dispatch (rounds, reports, alerts) read the domain apps.
TOP_FLOOR = ("dashboards", "dispatch")
# The design card's folders that are not Python packages.
CARD_FOLDERS = {"templates", "static", "fixtures", "bench"}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.update([node.module, *(f"{node.module}.{a.name}" for a in node.names)])
    return found


def sources(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_no_domain_app_imports_the_dashboards(app: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources(ROOT / app)
        if any(
            m.startswith(("heating.dashboards", "heating.dispatch")) for m in imported_modules(path)
        )
    ]
    assert offenders == []


def test_the_plan_core_imports_no_domain_app() -> None:
    """heating/ below the top floor (the dashboards) holds the plan, divisions and users, which
    every domain app builds on; it may not lean on them in turn."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources(ROOT / "heating")
        if not set(TOP_FLOOR) & set(path.parts)
        and any(m.split(".")[0] in DOMAIN_APPS for m in imported_modules(path))
    ]
    assert offenders == []


def test_the_dashboards_read_the_domain_apps() -> None:
    """The top floor does import them: the figures it shows are theirs."""
    found = set().union(*(imported_modules(p) for p in sources(ROOT / "heating" / "dashboards")))
    assert {m.split(".")[0] for m in found} >= {"retrofits"}


def test_the_readmes_layout_table_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([^`]+)`", table, flags=re.M)
    assert listed, "the README has a layout table"
    missing = [path for path in listed if not (ROOT / path.rstrip("/")).exists()]
    assert missing == []
    folders = {
        p.name + "/"
        for p in ROOT.iterdir()
        if p.is_dir() and ((p / "__init__.py").exists() or p.name in CARD_FOLDERS)
    }
    assert folders - set(listed) == set(), "every top-level folder is in the table"
