"""The tender list (中标设备清单) through django-import-export: small files, so the library's own
row-by-row import (with its preview in the admin) serves, wrapped all-or-nothing. The files are
read by the portal's bounded reader (heating/resources.py), within the bounds of a tender list."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from import_export import fields, resources, widgets

from heating.models import HeatingPath
from heating.resources import BoundedCSV, BoundedXLSX
from retrofits.choices import TENDERED_PATHS
from retrofits.models import TenderItem

# A city's tender list is dozens of models: a file far longer, or of megabytes, is another file.
TENDER_ROWS = 2000
TENDER_MB = 20
TENDER_ADVICE = "中标设备清单每个型号一行，请检查是否选错了文件。"


class TenderXLSX(BoundedXLSX):
    max_rows, max_mb, advice = TENDER_ROWS, TENDER_MB, TENDER_ADVICE


class TenderCSV(BoundedCSV):
    max_rows, max_mb, advice = TENDER_ROWS, TENDER_MB, TENDER_ADVICE


class PathWidget(widgets.Widget):
    labels = {HeatingPath(p).label: p for p in TENDERED_PATHS}

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = str(value or "").strip()
        if text not in self.labels:
            raise ValueError(f"「{text}」应为 煤改电 或 煤改气")
        return self.labels[text]

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return HeatingPath(value).label if value else ""


class PositiveNumberWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Decimal:
        text = str(value if value is not None else "").strip().replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"「{text}」应为正数") from None
        if not number.is_finite() or number <= 0:
            raise ValueError(f"「{text}」应为正数")
        return number

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        return value


class RequiredTextWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = "" if value is None else str(value).strip()
        if not text:
            raise ValueError("必填，不能为空")
        return text


class TenderItemResource(resources.ModelResource):
    category = fields.Field("category", "设备类别", RequiredTextWidget())
    path = fields.Field("path", "适用路径", PathWidget())
    model = fields.Field("model", "型号", RequiredTextWidget())
    vendor = fields.Field("vendor", "中标企业", RequiredTextWidget())
    rated_power_kw = fields.Field("rated_power_kw", "额定功率（kW）", PositiveNumberWidget())
    unit_price = fields.Field("unit_price", "中标单价（元）", PositiveNumberWidget())

    class Meta:
        model = TenderItem
        fields = ("category", "path", "model", "vendor", "rated_power_kw", "unit_price")
        import_id_fields = ("model",)
        clean_model_instances = True
        skip_unchanged = True
        use_transactions = True

    @classmethod
    def get_display_name(cls) -> str:
        return "中标设备清单"
