from __future__ import annotations

from energy_supply.commands import SupplyImportCommand
from energy_supply.sheets import UPGRADE


class Command(SupplyImportCommand):
    help = "导入电网改造工程（xlsx 或 csv，按模板）。全部正确才写入，否则列出全部错误并以非零状态退出。"
    template = UPGRADE
