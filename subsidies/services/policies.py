"""Writing 补贴标准: the import (all or nothing, every error by row and column) and the one
policy's save. A policy under which a paid subsidy was computed never changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from heating import access
from heating.access import Action
from heating.breakdown import county_labels
from heating.models import County, HeatingPath, PlanYear, User
from heating.sheets import SheetError
from subsidies.models import METHODS, Kind, Method, Policy, Status
from subsidies.sheets import (
    POLICY_COLUMNS,
    POLICY_TEMPLATE,
    Problem,
    parse_decimal,
    parse_year,
    read_small,
    text,
)

HEADERS = {c.field: c.header for c in POLICY_COLUMNS}
# The values compared to tell an unchanged row from a changed one.
VALUE_FIELDS = (
    "method", "rate", "amount", "free_use", "cap", "low_income_bonus", "city_share",
)  # fmt: skip
LOCKED = "该补贴标准已用于已发放的补贴，不能修改（如需调整请新增下一年度的标准）"


@dataclass
class PolicyImport:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SheetError] = field(default_factory=list)


class PolicyReader:
    """Turns 补贴标准 rows into Policy values; look-ups loaded once per file."""

    def __init__(self, user: User | None) -> None:
        self.years = set(PlanYear.objects.values_list("year", flat=True))
        self.counties = county_labels(County.objects.all())
        self.paths = {p.label: p.value for p in HeatingPath}
        self.kinds = {k.label: k.value for k in Kind}
        self.methods = {m.label: m.value for m in Method}
        # None: the server itself (the CLI without --user), which keeps every county's.
        self.allowed = (
            access.Scope(everything=True)
            if user is None
            else access.scope(user, Action.SUBSIDY_POLICY)
        )

    def row(self, raw: dict[str, object]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        values: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []

        def take(name: str, parse: Any, *, required: bool) -> None:
            shown = text(raw.get(name))
            if not shown:
                values[name] = None
                if required:
                    problems.append((name, "必填，不能为空"))
                return
            try:
                values[name] = parse(raw.get(name), shown)
            except Problem as exc:
                values[name] = None
                problems.append((name, str(exc)))

        def year(value: object, shown: str) -> int:
            found = parse_year(value)
            if found not in self.years:
                known = "、".join(str(y) for y in sorted(self.years))
                raise Problem(f"「{shown}」没有计划年度（已有年度：{known}）")
            return found

        def county(value: object, shown: str) -> County:
            found = self.counties.get(shown)
            if found is None:
                raise Problem(f"「{shown}」不是任务分解表的16个县（市、区）之一")
            return found

        def label(choices: dict[str, str]) -> Any:
            def parse(value: object, shown: str) -> str:
                if shown not in choices:
                    raise Problem(f"「{shown}」应为 {'、'.join(choices)}")
                return choices[shown]

            return parse

        def money(value: object, shown: str) -> Decimal:
            return parse_decimal(value, places=2, digits=12)

        def ratio(value: object, shown: str) -> Decimal:
            found = parse_decimal(value, places=4, digits=5, percent=True)
            if not 0 <= found <= 1:
                raise Problem(f"「{shown}」应在 0 到 1 之间")
            return found

        take("year", year, required=True)
        take("county", county, required=False)
        take("path", label(self.paths), required=True)
        take("kind", label(self.kinds), required=True)
        take("method", label(self.methods), required=True)
        take(
            "rate", lambda v, s: parse_decimal(v, places=4, digits=10, percent=True), required=False
        )
        take("amount", money, required=False)
        take("free_use", money, required=False)
        take("cap", money, required=True)
        take("low_income_bonus", money, required=False)
        take("city_share", ratio, required=True)

        kind, method = values.get("kind"), values.get("method")
        if kind and method and method not in METHODS[Kind(kind)]:
            allowed = "或".join(Method(m).label for m in METHODS[Kind(kind)])
            problems.append(("method", f"{Kind(kind).label}的计算方式应为{allowed}"))
        rate, amount = values.get("rate"), values.get("amount")
        wrong = {name for name, _ in problems}
        if method in (Method.RATIO, Method.METERED) and "rate" not in wrong:
            if rate is None:
                problems.append(("rate", f"计算方式为{Method(method).label}时必填"))
            elif method == Method.RATIO and not 0 < rate <= 1:
                problems.append(("rate", f"「{text(raw.get('rate'))}」应为大于 0、不大于 1 的比例"))
            elif rate <= 0:
                problems.append(("rate", f"「{text(raw.get('rate'))}」应为正的单价"))
        if method == Method.FIXED and rate is not None:
            problems.append(("rate", "计算方式为定额时不填"))
        if method == Method.FIXED and "amount" not in wrong:
            if amount is None:
                problems.append(("amount", "计算方式为定额时必填"))
            elif amount <= 0:
                problems.append(("amount", f"「{text(raw.get('amount'))}」应为正数"))
        if method in (Method.RATIO, Method.METERED) and amount is not None:
            problems.append(("amount", "仅计算方式为定额时填写"))
        cap = values.get("cap")
        if cap is not None and cap <= 0:
            problems.append(("cap", f"「{text(raw.get('cap'))}」应为正数"))
        for name in ("free_use", "low_income_bonus"):
            found = values.get(name)
            if found is not None and found < 0:
                problems.append((name, f"「{text(raw.get(name))}」不能小于 0"))
            if found is None and name not in wrong:
                values[name] = Decimal(0)
        where = values.get("county")
        if "county" not in wrong:
            if where is None and not self.allowed.everything:
                problems.append(("county", "只有市级用户可以填写全市默认标准（县（市、区）留空）"))
            elif where is not None and where.pk not in self.allowed:
                problems.append(("county", f"无权维护{where.short_name}的补贴标准"))
        return values, problems


def _key(values: dict[str, Any]) -> tuple[Any, ...]:
    county = values["county"]
    return (values["year"], county.pk if county else None, values["path"], values["kind"])


@transaction.atomic
def policy_import(
    *, data: bytes, name: str, user: User | None, dry_run: bool = False
) -> PolicyImport:
    """Every row written, or none: an upsert by (年度, 县, 路径, 类别), unchanged rows left
    alone, each change kept in the policy's history. Raises SheetFileError for a file that is
    not the template."""
    sheet = read_small(data, name, POLICY_TEMPLATE)
    reader = PolicyReader(user)
    outcome = PolicyImport()
    rows: list[tuple[int, dict[str, Any]]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for number, cells in sheet.rows:
        outcome.total += 1
        raw = {f: cells[i] if i < len(cells) else None for f, i in sheet.positions.items()}
        values, problems = reader.row(raw)
        if not problems:
            key = _key(values)
            if key in seen:
                problems.append(("kind", f"与第{seen[key]}行是同一年度、县、路径和补贴类别"))
            else:
                seen[key] = number
        outcome.errors += [
            SheetError(number, HEADERS[f], text(raw.get(f)), message) for f, message in problems
        ]
        rows.append((number, values))
    if outcome.errors:
        return outcome

    existing = {
        (p.plan_year_id, p.county_id, p.path, p.kind): p
        for p in Policy.objects.select_for_update()
        .filter(plan_year_id__in={k[0] for k in seen})
        .order_by("pk")  # the default order joins counties, which FOR UPDATE may not lock
    }
    locked = set(
        Policy.objects.filter(
            pk__in=[p.pk for p in existing.values()], entitlements__status=Status.PAID
        ).values_list("pk", flat=True)
    )
    for number, values in rows:
        policy = existing.get(_key(values))
        if policy is None:
            policy = Policy(
                plan_year_id=values["year"],
                county=values["county"],
                path=values["path"],
                kind=values["kind"],
            )
            changed = True
        else:
            # A demo row the bureau imports again is the bureau's from then on.
            changed = policy.demo or any(getattr(policy, f) != values[f] for f in VALUE_FIELDS)
            if changed and policy.pk in locked:
                outcome.errors.append(
                    SheetError(number, HEADERS["kind"], text(values["kind"]), LOCKED)
                )
                continue
        if not changed:
            outcome.unchanged += 1
            continue
        created = policy.pk is None
        for f in VALUE_FIELDS:
            setattr(policy, f, values[f])
        policy.demo = False
        policy._change_reason = f"导入{POLICY_TEMPLATE}（{name}第{number}行）"  # type: ignore[attr-defined]
        if user is not None:
            policy._history_user = user  # type: ignore[attr-defined]
        policy.full_clean()
        policy.save()
        if created:
            outcome.created += 1
        else:
            outcome.updated += 1
    if outcome.errors or dry_run:
        transaction.set_rollback(True)
    return outcome


def policy_rows(policies: Sequence[Policy]) -> list[list[object]]:
    """Policies in the template's layout and wording (the page's table and the export)."""
    out: list[list[object]] = []
    for p in policies:
        out.append(
            [
                p.plan_year_id,
                p.county.short_name if p.county else "",
                p.get_path_display(),
                p.get_kind_display(),
                p.get_method_display(),
                p.rate.normalize() if p.rate is not None else "",
                p.amount if p.amount is not None else "",
                p.free_use,
                p.cap,
                p.low_income_bonus,
                p.city_share.normalize(),
            ]
        )
    return out


# The demo city's policies (演示): amounts in the range of northern cities' schemes, not
# Xinzhou's, which are not public. The bureau's import replaces them.
DEMO_POLICIES: tuple[dict[str, Any], ...] = (
    {"path": HeatingPath.ELECTRIC, "kind": Kind.EQUIPMENT, "method": Method.RATIO,
     "rate": Decimal("0.5"), "cap": Decimal(12000), "low_income_bonus": Decimal(1000),
     "city_share": Decimal("0.5")},
    {"path": HeatingPath.GAS, "kind": Kind.EQUIPMENT, "method": Method.FIXED,
     "amount": Decimal(4000), "cap": Decimal(4000), "low_income_bonus": Decimal(1000),
     "city_share": Decimal("0.5")},
    {"path": HeatingPath.ELECTRIC, "kind": Kind.RUNNING, "method": Method.METERED,
     "rate": Decimal("0.2"), "free_use": Decimal(500), "cap": Decimal(1500),
     "low_income_bonus": Decimal(300), "city_share": Decimal("0.5")},
    {"path": HeatingPath.GAS, "kind": Kind.RUNNING, "method": Method.METERED,
     "rate": Decimal("1.0"), "free_use": Decimal(100), "cap": Decimal(1200),
     "low_income_bonus": Decimal(300), "city_share": Decimal("0.5")},
    # A county's own, replacing the city's default there.
    {"county": "静乐县", "path": HeatingPath.ELECTRIC, "kind": Kind.EQUIPMENT,
     "method": Method.RATIO, "rate": Decimal("0.6"), "cap": Decimal(14000),
     "low_income_bonus": Decimal(1500), "city_share": Decimal("0.6")},
)  # fmt: skip


@transaction.atomic
def demo_policies_load(*, year: int) -> int:
    """The demo policies of a year that has none (a second run writes nothing)."""
    if Policy.objects.filter(plan_year_id=year).exists():
        return 0
    for values in DEMO_POLICIES:
        row = dict(values)
        county = County.objects.get(short_name=row.pop("county")) if "county" in row else None
        policy = Policy(plan_year_id=year, county=county, demo=True, **row)
        policy._change_reason = "演示数据"  # type: ignore[attr-defined]
        policy.full_clean()
        policy.save()
    return len(DEMO_POLICIES)
