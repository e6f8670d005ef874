from __future__ import annotations

from energy_supply.commands import SupplyImportCommand
from energy_supply.sheets import NETWORK


class Command(SupplyImportCommand):
    help = "导入燃气管网工程（xlsx 或 csv，按模板）。全部正确才写入，否则列出全部错误并以非零状态退出。"
    template = NETWORK
