"""The layout of the design card, floors whose imports only point down: heating/ is the core
(settings, divisions, plan, users, access) and imports no domain app; the domain apps stand on it;
oversight/, the city's oversight of the programme (dashboards, dispatch, the evaluation pack), is
the top floor: it imports the domain apps and none imports it. The README's layout table names
what is in the tree."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
CORE = "heating"
DOMAIN_APPS = ("retrofits", "acceptance", "energy_supply", "subsidies", "aftercare")
TOP_FLOOR = "oversight"
# The design card's folders that are not Python packages.
CARD_FOLDERS = {"templates", "static", "fixtures", "bench", "docs"}


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


def top_packages(path: Path) -> set[str]:
    return {m.split(".")[0] for m in imported_modules(path)}


@pytest.mark.parametrize("app", [CORE, *DOMAIN_APPS])
def test_nothing_below_imports_the_top_floor(app: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources(ROOT / app)
        if TOP_FLOOR in top_packages(path)
    ]
    assert offenders == []


def test_the_core_imports_no_domain_app() -> None:
    """heating/ holds the settings, divisions, plan, users and the access policy, which every
    domain app builds on; it may not lean on them in turn."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources(ROOT / CORE)
        if top_packages(path) & set(DOMAIN_APPS)
    ]
    assert offenders == []


def test_the_top_floor_reads_the_domain_apps() -> None:
    """The top floor does import them: the figures it shows are theirs (the money's come with the
    evaluation pack)."""
    found = set().union(*(top_packages(p) for p in sources(ROOT / TOP_FLOOR)))
    assert found >= set(DOMAIN_APPS) - {"subsidies"}


# ---------------------------------------------------------------- writers closed

# Where households may be written by SQL: the ledger engine alone.
LEDGER_ENGINE = ROOT / "retrofits" / "ledger"
HOUSEHOLD_TABLES = ("retrofits_household", "retrofits_historicalhousehold")
# The ORM's writes, by the name of the queryset or manager method.
QUERYSET_WRITES = {
    "create", "update", "delete", "bulk_create", "bulk_update", "get_or_create",
    "update_or_create",
}  # fmt: skip
RELATED_WRITES = {"set", "add", "remove", "clear"}
# simple-history's bulk writes, which save rows and their history in one go.
HISTORY_WRITES = {"bulk_create_with_history", "bulk_update_with_history"}


def product_sources() -> list[Path]:
    """Every module of the product: the apps, not the tests or benchmarks."""
    apps = [p for p in ROOT.iterdir() if (p / "apps.py").exists()]
    return [path for app in apps for path in sources(app)]


def is_writer(path: Path) -> bool:
    """The modules allowed to write: a domain's services (`services.py`, or a `services/`
    package) and the ledger engine."""
    return (
        path.name == "services.py"
        or "services" in path.parent.parts
        or LEDGER_ENGINE in path.parents
    )


def county_owned_models() -> tuple[set[str], set[str]]:
    """The models whose rows belong to a county (a path to County through their foreign keys, or
    a county-scoped queryset), divisions aside (reference data); and their many-to-many fields."""
    from django.apps import apps

    from heating.models import County, CountyScopedQuerySet, Township, Village

    reference = {County, Township, Village}
    owned = {
        m
        for m in apps.get_models()
        if issubclass(m._default_manager._queryset_class, CountyScopedQuerySet)  # type: ignore[attr-defined]
    } - reference
    while True:
        grown = owned | {
            m
            for m in apps.get_models()
            if m not in reference
            and any(
                f.many_to_one or f.one_to_one
                for f in m._meta.get_fields()
                if getattr(f, "concrete", False) and f.related_model in owned | {County}
            )
        }
        if grown == owned:
            break
        owned = grown
    m2m = {f.name for m in owned for f in m._meta.many_to_many}
    return {m.__name__ for m in owned}, m2m


def _names(node: ast.AST) -> list[str]:
    """The names along a chain of attributes and calls: `A.objects.filter(x).update` gives
    ["A", "objects", "filter", "update"]."""
    found: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            found.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            found.append(node.id)
            return found[::-1]
        else:
            return found[::-1]


def writes_outside_services(path: Path, owned: set[str], m2m: set[str]) -> list[str]:
    """The lines of a module that write a county-owned record by the ORM, save or delete any
    model instance, or write rows with their history by simple-history's bulk helpers (whatever
    name they are imported under)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    history_writes = set(HISTORY_WRITES) | {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name in HISTORY_WRITES and alias.asname
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if isinstance(node.func, ast.Name):
            called = node.func.id
        if called in history_writes:
            found.append(f"{node.lineno}: {'.'.join(_names(node.func))}()")
            continue
        if not isinstance(node.func, ast.Attribute):
            continue
        method, receiver = node.func.attr, node.func.value
        chain = _names(receiver)
        keywords = {k.arg: k.value for k in node.keywords}
        if isinstance(receiver, ast.Call) and _names(receiver.func) == ["super"]:
            continue  # a model's own save() or delete() handing on to Django's
        if (method in QUERYSET_WRITES and "objects" in chain and chain[0] in owned) or (
            method in RELATED_WRITES and chain and chain[-1] in m2m
        ):
            found.append(f"{node.lineno}: {'.'.join(chain)}.{method}()")
        elif method == "save" and not node.args:
            commit = keywords.get("commit")
            if not (isinstance(commit, ast.Constant) and commit.value is False):
                found.append(f"{node.lineno}: {'.'.join(chain)}.save()")
        elif method == "delete" and not node.args and "save" not in keywords:
            found.append(f"{node.lineno}: {'.'.join(chain)}.delete()")
    return found


def test_only_the_ledger_engine_names_the_household_table() -> None:
    """SQL about households is the ledger engine's: anything else reads them through the ORM and
    writes them through the one-household service."""
    offenders = []
    for path in product_sources():
        if LEDGER_ENGINE in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if any(t in node.value.lower() for t in HOUSEHOLD_TABLES):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            elif (
                isinstance(node, ast.Attribute)
                and node.attr == "db_table"
                and "Household" in _names(node.value)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_county_owned_records_are_written_by_their_services_only() -> None:
    owned, m2m = county_owned_models()
    assert {"Household", "Inspection", "HeatingRemoval", "GasConnection", "CountyReport"} <= owned
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in product_sources()
        if not is_writer(path) and (found := writes_outside_services(path, owned, m2m))
    }
    assert offenders == {}


def test_the_writers_check_finds_a_write(tmp_path: Path) -> None:
    """The check above finds what it looks for (it would pass on nothing otherwise)."""
    module = tmp_path / "demo.py"
    module.write_text(
        "def f(h, form):\n"
        "    HeatingRemoval.objects.bulk_create([])\n"
        "    Defect.objects.filter(pk=1).update(closed_by=None)\n"
        "    h.save()\n"
        "    form.save(commit=False)\n"
        "    super().save()\n"
        "    source.counties.set([])\n"
        "    bulk_create_with_history([], GridUpgrade)\n"
        "    utils.bulk_update_with_history([], GasContract, ['households'])\n"
        "    from simple_history.utils import bulk_create_with_history as create\n"
        "    create([], GasNetwork)\n",
        encoding="utf-8",
    )
    owned, m2m = county_owned_models()
    assert [line.split(":")[0] for line in writes_outside_services(module, owned, m2m)] == [
        "2", "3", "4", "7", "8", "9", "11",
    ]  # fmt: skip


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


@pytest.mark.parametrize(
    "module",
    sorted(
        f"{path.parent.name}.admin"
        for path in ROOT.glob("*/admin.py")
        if path.parent.name in (CORE, *DOMAIN_APPS, TOP_FLOOR)
    ),
)
def test_each_admin_module_imports_before_the_admin_site_loads(module: str) -> None:
    """The admin site loads with the URLs (heating.apps.AdminLoadedWithTheURLs): a module that
    imports an app's admin first (a test, a shell) must not find what it unregisters missing."""
    done = python(f"import django; django.setup(); import {module}")
    assert done.returncode == 0, done.stderr[-2000:]


def python(script: str) -> subprocess.CompletedProcess[str]:
    """`script` run by a fresh interpreter with the portal's own settings."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "heating.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


# What a ledger import from the command line never uses, each tens of milliseconds of a command's
# start: Celery, the spreadsheet writers, the geometry and the images' hashes.
NOT_AT_START = ["celery", "xlsxwriter", "openpyxl", "shapely", "imagehash"]


def test_a_ledger_import_starts_without_the_libraries_it_does_not_use() -> None:
    """Celery is loaded with the first tasks module a process imports (heating/celery.py), the
    others by the code that writes a file or measures a place: Django's start and a ledger
    import's modules do without them."""
    done = python(
        "import sys, django; django.setup(); "
        "import retrofits.management.commands.import_ledger, retrofits.ledger.store; "
        f"print([m for m in {NOT_AT_START!r} if m in sys.modules]); "
        "import retrofits.tasks; print('celery' in sys.modules)"
    )
    assert done.stdout.splitlines() == ["[]", "True"], done.stderr[-2000:]


def test_beat_sends_only_tasks_the_app_knows() -> None:
    from heating.celery import app

    app.loader.import_default_modules()  # the tasks modules, as a worker finds them
    schedule = app.conf.beat_schedule
    assert schedule["progress-rollup"]["schedule"] == settings.ROLLUP_SECONDS
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)
    assert len(schedule) == 8
