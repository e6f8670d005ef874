from __future__ import annotations

from heating.models.audit import PersonalDataAccess
from heating.models.choices import AreaType, BuildingKind, HeatingPath, Role
from heating.models.divisions import County, Township, Village
from heating.models.exports import ExportJob
from heating.models.plan import BuildingTarget, CountyDeadline, PlanYear, Target
from heating.models.scoping import CountyScopedQuerySet
from heating.models.users import User

__all__ = [
    "AreaType",
    "BuildingKind",
    "BuildingTarget",
    "County",
    "CountyDeadline",
    "CountyScopedQuerySet",
    "ExportJob",
    "HeatingPath",
    "PersonalDataAccess",
    "PlanYear",
    "Role",
    "Target",
    "Township",
    "User",
    "Village",
]
