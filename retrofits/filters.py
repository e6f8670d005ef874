from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import F
from django.urls import reverse

from heating.http import parse_id
from heating.models import AreaType, County, HeatingPath, PlanYear, Township, User, Village
from retrofits.choices import Stage
from retrofits.models import HouseholdQuerySet, TenderItem


class HouseholdFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="搜索",
        method="search",
        help_text="户主姓名（可只输开头，如姓氏）、户编号或身份证号（可只输末几位）",
    )
    county = django_filters.ModelChoiceFilter(
        label="县（市、区）", queryset=County.objects.none(), empty_label="全部"
    )
    township = django_filters.ModelChoiceFilter(
        label="乡（镇、街道）", queryset=Township.objects.none(), empty_label="全部"
    )
    village = django_filters.ModelChoiceFilter(
        label="村（社区）", queryset=Village.objects.none(), empty_label="全部"
    )
    path = django_filters.ChoiceFilter(
        label="取暖路径", choices=HeatingPath.choices, empty_label="全部"
    )
    area = django_filters.ChoiceFilter(
        label="城乡类型", choices=AreaType.choices, empty_label="全部"
    )
    stage = django_filters.ChoiceFilter(label="实施进度", choices=Stage.choices, empty_label="全部")
    plan_year = django_filters.ModelChoiceFilter(
        label="任务年度",
        queryset=PlanYear.objects.order_by("-year"),
        to_field_name="year",
        empty_label="全部",
    )
    # A choice, not a BooleanFilter: that one reads any unknown value as "all" and ignores it.
    low_income = django_filters.ChoiceFilter(
        label="低收入户",
        choices=[("true", "是"), ("false", "否")],
        method="low_income_is",
        empty_label="全部",
    )
    equipment = django_filters.ModelChoiceFilter(
        label="设备型号", queryset=TenderItem.objects.all(), empty_label="全部"
    )
    not_heat_pump = django_filters.ChoiceFilter(
        label="煤改电设备",
        choices=[("true", "非空气源热泵")],
        method="electric_not_heat_pump",
        empty_label="全部",
    )
    # Only orders an index serves, so that sorting stays fast at a million households.
    order = django_filters.ChoiceFilter(
        label="排序",
        choices=[
            ("code", "户编号（升序）"),
            ("-code", "户编号（降序）"),
            ("-completed_on", "完工日期（最近在前）"),
        ],
        method="order_by",
        empty_label="户编号（默认）",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user  # the search asks whom it searches for
        counties = County.objects.visible_to(user)
        self.filters["county"].queryset = counties
        townships = Township.objects.filter(county__in=counties)
        county_id = parse_id(self.data.get("county"))
        if county_id:
            townships = townships.filter(county_id=county_id)
        elif counties.count() > 1:
            townships = townships.none()
        self.filters["township"].queryset = townships
        township_id = parse_id(self.data.get("township"))
        self.filters["village"].queryset = (
            Village.objects.filter(township_id=township_id, township__in=townships)
            if township_id
            else Village.objects.none()
        )
        # Choosing a county loads its townships, a township its villages, before 筛选 is pressed.
        fields = self.form.fields
        fields["county"].widget.attrs.update(
            {
                "hx-get": reverse("township-options"),
                "hx-target": "#id_township",
                "hx-trigger": "change",
            }
        )
        fields["township"].widget.attrs.update(
            {
                "hx-get": reverse("village-options") + "?all=1",
                "hx-target": "#id_village",
                "hx-trigger": "change",
            }
        )
        # Search as people type: the list below follows the box, a moment after the last key.
        fields["q"].widget.attrs.update(
            {
                "placeholder": "姓名开头、编号或身份证号末几位",
                "type": "search",
                "autocomplete": "off",
                "hx-get": reverse("household-list"),
                "hx-trigger": "input changed delay:400ms, search",
                "hx-include": "closest form",
                "hx-target": "#household-results",
                "hx-select": "#household-results",
                "hx-swap": "outerHTML",
                "hx-push-url": "true",
            }
        )

    def electric_not_heat_pump(
        self, queryset: HouseholdQuerySet, name: str, value: str
    ) -> HouseholdQuerySet:
        return queryset.electric_not_heat_pump() if value == "true" else queryset

    def low_income_is(
        self, queryset: HouseholdQuerySet, name: str, value: str
    ) -> HouseholdQuerySet:
        return queryset.filter(low_income=value == "true")

    def order_by(self, queryset: HouseholdQuerySet, name: str, value: str) -> HouseholdQuerySet:
        if value == "-completed_on":
            return queryset.order_by(F("completed_on").desc(nulls_last=True), "code")
        return queryset.order_by(value)

    def search(self, queryset: HouseholdQuerySet, name: str, value: str) -> HouseholdQuerySet:
        return queryset.search(value, user=self.user)


def filter_problems(filtered: HouseholdFilter) -> list[str]:
    """An invalid filter's Chinese messages, each naming the filter, for the list and its export."""
    form = filtered.form
    return [
        f"筛选条件「{form.fields[name].label if name in form.fields else name}」无效：{message}"
        for name, messages in form.errors.items()
        for message in messages
    ]
