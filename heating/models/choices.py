"""The fixed vocabularies of the plan, shared by every app."""

from __future__ import annotations

from django.db import models


class HeatingPath(models.TextChoices):
    # Order follows the task-breakdown table's columns.
    DISTRICT = "district", "集中供热"
    ELECTRIC = "electric", "煤改电"
    GAS = "gas", "煤改气"
    BIOMASS = "biomass", "生物质热电联产"


class AreaType(models.TextChoices):
    URBAN = "urban", "城区/县城"
    RURAL = "rural", "农村"


class BuildingKind(models.TextChoices):
    TOWN = "town", "城区/县城既有建筑节能改造"
    RURAL_ENVELOPE = "rural_envelope", "农村围护结构改造"


class Role(models.TextChoices):
    MUNICIPAL = "municipal", "市级用户"
    COUNTY = "county", "县级用户"
    INSPECTOR = "inspector", "验收人员"
    # The county's leading-group office head (or another named person), who signs off its
    # dispatch reports before the bureau sees them.
    APPROVER = "approver", "县级审核人"
    # The county's finance bureau (县级财政): approves subsidy batches and pays them through the
    # bank (subsidies/); it sees the county's figures, masked, and nothing of the ledger's writes.
    FINANCE = "finance", "县级财政"
    ADMIN = "admin", "系统管理员"
