"""The 16 units of the task table and the townships and villages below them."""

from __future__ import annotations

from django.db import models

from heating.models.scoping import CountyScopedQuerySet


class CountyQuerySet(CountyScopedQuerySet["County"]):
    county_lookups = ("pk",)


class County(models.Model):
    """One unit of the task-breakdown table: 14 divisions, 忻州城区 and 五台山风景名胜区."""

    order = models.PositiveSmallIntegerField("表中顺序", unique=True)
    short_name = models.CharField(
        "简称", max_length=20, unique=True, help_text="任务分解表所用名称"
    )
    name = models.CharField("全称", max_length=40, unique=True)
    # 忻州城区 has no division code of its own: its townships are 忻府区's 街道.
    division_code = models.CharField("区划代码", max_length=6, unique=True, null=True, blank=True)

    objects = CountyQuerySet.as_manager()

    class Meta:
        ordering = ["order"]
        verbose_name = verbose_name_plural = "县（市、区）"

    def __str__(self) -> str:
        return self.short_name

    def natural_key(self) -> tuple[str]:
        return (self.short_name,)


class TownshipQuerySet(CountyScopedQuerySet["Township"]):
    pass


class Township(models.Model):
    code = models.CharField("区划代码", max_length=9, unique=True)
    name = models.CharField("名称", max_length=40)
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="townships", verbose_name="县（市、区）"
    )

    objects = TownshipQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = verbose_name_plural = "乡（镇、街道）"
        constraints = [
            models.UniqueConstraint(
                fields=["county", "name"], name="township_name_unique_in_county"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VillageQuerySet(CountyScopedQuerySet["Village"]):
    county_lookups = ("township__county",)


class Village(models.Model):
    code = models.CharField("区划代码", max_length=12, unique=True)
    name = models.CharField("名称", max_length=60)
    township = models.ForeignKey(
        Township, on_delete=models.PROTECT, related_name="villages", verbose_name="乡（镇、街道）"
    )

    objects = VillageQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = verbose_name_plural = "村（社区）"
        constraints = [
            models.UniqueConstraint(
                fields=["township", "name"], name="village_name_unique_in_township"
            ),
        ]

    def __str__(self) -> str:
        return self.name
