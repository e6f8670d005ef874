"""The household's stages and which paths take tendered equipment: the vocabulary that models,
validators, the import and the rules share, in a module that imports none of them."""

from __future__ import annotations

from django.db import models

from heating.models import HeatingPath


class Stage(models.TextChoices):
    # In the order a household goes through them; 已验收 comes only from an acceptance record.
    CONFIRMED = "confirmed", "已确户"
    SELECTED = "selected", "已选型"
    BUILDING = "building", "施工中"
    COMPLETED = "completed", "已完工"
    ACCEPTED = "accepted", "已验收"

    @classmethod
    def rank(cls, value: str) -> int:
        return list(cls.values).index(value)


# Paths whose equipment the municipal energy bureau tenders (市能源局统一招标).
TENDERED_PATHS = (HeatingPath.ELECTRIC, HeatingPath.GAS)
DONE_STAGES = (Stage.COMPLETED, Stage.ACCEPTED)
# Outside the heat network 煤改电 takes air-source heat pumps "原则上" (四.2): other equipment is
# allowed, counted per county, and its reason kept in the household's 备注.
HEAT_PUMP_CATEGORY = "空气源热泵"


def stages_from(stage: Stage) -> tuple[str, ...]:
    """`stage` and every stage after it: 已选型及以后 is stages_from(Stage.SELECTED)."""
    return tuple(Stage.values[Stage.rank(stage) :])
