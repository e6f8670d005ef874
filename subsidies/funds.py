"""Funds (资金): what was allocated to each county by source, what was spent (the reconciled
payments, the city's and the county's parts, and other spending typed in), the balance and
预算执行率; and the tilt (三(六)): the average subsidy of a low-income household beside the
others', per county and path. Read-only figures for the funds page and /api/funds."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum

from heating.access import Action, scope
from heating.models import County, HeatingPath, User
from subsidies.models import (
    Allocation,
    Entitlement,
    FundSource,
    Spending,
    Status,
    yuan,
)

ZERO = Decimal("0.00")


@dataclass
class FundLine:
    county: County
    source: str
    allocated: Decimal = ZERO
    spent: Decimal = ZERO

    @property
    def source_label(self) -> str:
        return FundSource(self.source).label

    @property
    def balance(self) -> Decimal:
        return self.allocated - self.spent

    @property
    def rate(self) -> Decimal | None:
        """预算执行率 in %, to one place; none where nothing was allocated."""
        if not self.allocated:
            return None
        return (self.spent * 100 / self.allocated).quantize(Decimal("0.1"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "county": self.county.short_name,
            "source": self.source_label,
            "allocated": str(self.allocated),
            "spent": str(self.spent),
            "balance": str(self.balance),
            "execution_rate": None if self.rate is None else str(self.rate),
        }


def fund_lines(user: User, year: int) -> list[FundLine]:
    """Each county the user may see × each source that has money or spending."""
    allowed = scope(user, Action.VIEW)
    return county_fund_lines(County.objects.filter(allowed.q("pk")), year)


def county_fund_lines(
    chosen: QuerySet[County], year: int, *, as_of: dt.date | None = None
) -> list[FundLine]:
    """The funds of these counties as they stood at the end of `as_of` (None: now): allocated
    by then, spent by then, paid by then."""
    counties = {c.pk: c for c in chosen.order_by("order")}
    allocations = Allocation.objects.for_year(year)
    spendings = Spending.objects.for_year(year)
    paid = Entitlement.objects.for_season(year)
    if as_of is not None:
        allocations = allocations.filter(allocated_on__lte=as_of)
        spendings = spendings.filter(spent_on__lte=as_of)
        paid = paid.filter(paid_on__lte=as_of)
    lines: dict[tuple[int, str], FundLine] = {}

    def line(county_id: int, source: str) -> FundLine:
        key = (county_id, source)
        if key not in lines:
            lines[key] = FundLine(counties[county_id], source)
        return lines[key]

    for row in (
        allocations.filter(county_id__in=counties)
        .values("county_id", "source")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        line(row["county_id"], row["source"]).allocated += row["total"]
    for row in (
        spendings.filter(county_id__in=counties)
        .values("county_id", "source")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        line(row["county_id"], row["source"]).spent += row["total"]
    # The subsidies paid (reconciled with the bank): the city's part from 市级, the county's
    # from 县级, as the policy split them.
    for county_id, city_fen, county_fen in (
        paid.filter(county_id__in=counties, status=Status.PAID)
        .values("county_id")
        .annotate(city=Sum("city_fen"), own=Sum("county_fen"))
        .order_by()
        .values_list("county_id", "city", "own")
    ):
        line(county_id, FundSource.CITY).spent += yuan(city_fen)
        line(county_id, FundSource.COUNTY).spent += yuan(county_fen)
    order = {s: i for i, s in enumerate(FundSource.values)}
    return sorted(lines.values(), key=lambda f: (f.county.order, order[f.source]))


@dataclass
class Tilt:
    county: County
    path: str
    low_income_households: int
    low_income_average: Decimal | None
    other_households: int
    other_average: Decimal | None

    @property
    def path_label(self) -> str:
        return HeatingPath(self.path).label


def tilt(user: User, year: int) -> list[Tilt]:
    """Per county and path, the average subsidy (both kinds, the season's) per household."""
    allowed = scope(user, Action.VIEW)
    counties = {c.pk: c for c in County.objects.filter(allowed.q("pk")).order_by("order")}
    groups: dict[tuple[int, str], dict[bool, tuple[int, int]]] = defaultdict(dict)
    for row in (
        Entitlement.objects.for_season(year)
        .filter(county_id__in=counties)
        .values("county_id", "household__path", "household__low_income")
        .annotate(households=Count("household", distinct=True), fen=Sum("amount_fen"))
        .order_by()
    ):
        key = (row["county_id"], row["household__path"])
        groups[key][row["household__low_income"]] = (row["households"], row["fen"])

    def average(found: tuple[int, int] | None) -> Decimal | None:
        if not found or not found[0]:
            return None
        households, fen = found
        return yuan((fen * 2 + households) // (households * 2))  # to the fen, half up, no float

    out = []
    for (county_id, path), parts in groups.items():
        low, other = parts.get(True), parts.get(False)
        out.append(
            Tilt(
                counties[county_id],
                path,
                low[0] if low else 0,
                average(low),
                other[0] if other else 0,
                average(other),
            )
        )
    paths = list(HeatingPath.values)
    return sorted(out, key=lambda t: (t.county.order, paths.index(t.path)))
