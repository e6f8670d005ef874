"""The subsidies' vocabularies, and money in whole fen shown as 元."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from heating.models import HeatingPath

FEN = Decimal("0.01")


def yuan(fen: int) -> Decimal:
    """Whole fen as 元, exactly."""
    return (Decimal(fen) / 100).quantize(FEN)


class Kind(models.TextChoices):
    EQUIPMENT = "equipment", "设备购置补贴"  # once per household
    RUNNING = "running", "运行补贴"  # once per household and heating season


class Method(models.TextChoices):
    RATIO = "ratio", "按中标价比例"
    FIXED = "fixed", "定额"
    METERED = "metered", "按用量"


# The methods each kind may use (docs/ledger-template.md, 补贴标准).
METHODS = {Kind.EQUIPMENT: (Method.RATIO, Method.FIXED), Kind.RUNNING: (Method.METERED,)}


class MeterKind(models.TextChoices):
    # The values are the paths' own: a 煤改电 household's running subsidy counts its 电 meter.
    ELECTRIC = HeatingPath.ELECTRIC.value, "电"
    GAS = HeatingPath.GAS.value, "气"


METER_UNITS = {MeterKind.ELECTRIC: "千瓦时", MeterKind.GAS: "立方米"}


class Status(models.TextChoices):
    UNPAID = "unpaid", "待发放"
    PAID = "paid", "已发放"


class FundSource(models.TextChoices):
    CENTRAL = "central", "中央奖补"
    PROVINCE = "province", "省级"
    CITY = "city", "市级"
    COUNTY = "county", "县级"
