"""The entitlements as an xlsx (subsidy_export): one row per household and kind, and one more for
each top-up of it (补差)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from heating.models import County
from heating.sheets import Column, write_sheet
from subsidies.models import Entitlement, yuan
from subsidies.models.entitlements import kind_label

COLUMNS = (
    Column("code", "户编号", True, "", format="text"),
    Column("kind", "补贴项目", True, "设备购置补贴 或 运行补贴；补差注明次序"),
    Column("amount", "补贴金额（元）", True, "", format="number"),
    Column("city", "其中市级", True, "元", format="number"),
    Column("county", "其中县级", True, "元", format="number"),
)


def entitlement_rows(year: int, county: County | None = None) -> Iterator[Sequence[object]]:
    """Streamed from the database in the order of the households' codes."""
    rows = Entitlement.objects.for_season(year)
    if county is not None:
        rows = rows.filter(county=county)
    for code, kind, top_up, amount, city, county_fen in (
        rows.order_by("household__code", "kind", "top_up")
        .values_list("household__code", "kind", "top_up", "amount_fen", "city_fen", "county_fen")
        .iterator(chunk_size=5000)
    ):
        yield code, kind_label(kind, top_up), yuan(amount), yuan(city), yuan(county_fen)


def entitlements_xlsx(year: int, county: County | None = None) -> bytes:
    return write_sheet(entitlement_rows(year, county), COLUMNS, title=f"{year}年度补贴核算")
