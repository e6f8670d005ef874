"""A record's change record (django-simple-history) in words people read: each field by its
Chinese name, choices by their labels, related rows by their names. Households, supply records
and any other model with history show it the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.text import format_lazy
from simple_history.models import HistoricalRecords


class History(HistoricalRecords):
    """django-simple-history's records, named in Chinese where the admin shows them
    (「中标设备变更记录」, not "historical 中标设备")."""

    def get_meta_options(self, model: type[models.Model]) -> dict[str, Any]:
        options: dict[str, Any] = super().get_meta_options(model)
        options["verbose_name"] = format_lazy("{}变更记录", model._meta.verbose_name)
        options["verbose_name_plural"] = format_lazy("{}变更记录", model._meta.verbose_name)
        return options


@dataclass(frozen=True)
class Change:
    when: dt.datetime
    who: str
    kind: str
    reason: str
    fields: list[tuple[str, str, str]]  # (label, before, after)


KINDS = {"+": "创建", "~": "修改", "-": "删除"}
# A hook that may mask a field's stored value before it is shown (personal data).
Masked = Callable[[str, str], str]


def record_changes(
    record: models.Model, *, hidden: Collection[str] = (), masked: Masked | None = None
) -> list[Change]:
    """Newest first: who created or changed what, and why."""
    model = type(record)
    history = record.history  # type: ignore[attr-defined]
    changes: list[Change] = []
    previous = None
    for entry in history.select_related("history_user").order_by("history_date", "history_id"):
        fields: list[tuple[str, str, str]] = []
        if previous is not None:
            delta = entry.diff_against(previous, excluded_fields=set(hidden))
            for change in delta.changes:
                fields.append(
                    (
                        label(model, change.field),
                        shown(model, change.field, change.old, masked),
                        shown(model, change.field, change.new, masked),
                    )
                )
        if previous is None or fields or entry.history_change_reason:
            changes.append(
                Change(
                    when=entry.history_date,
                    who=str(entry.history_user) if entry.history_user else "系统",
                    kind=KINDS[entry.history_type],
                    reason=entry.history_change_reason or "",
                    fields=fields,
                )
            )
        previous = entry
    return changes[::-1]


def label(model: type[models.Model], name: str) -> str:
    return str(getattr(model._meta.get_field(name), "verbose_name", name))


def shown(model: type[models.Model], name: str, value: Any, masked: Masked | None = None) -> str:
    if value is None or value == "":
        return "（空）"
    if isinstance(value, str) and masked is not None:
        value = masked(name, value)
    field = model._meta.get_field(name)
    related = field.related_model if field.is_relation else None
    if isinstance(related, type) and issubclass(related, models.Model):
        found = related._default_manager.filter(pk=value).first()
        return str(found) if found else str(value)
    choices = getattr(field, "choices", None)
    if choices:
        return str(dict(choices).get(value, value))
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.date):
        return f"{value:%Y-%m-%d}"
    return str(value)
