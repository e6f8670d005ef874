"""Optimistic locking for the records people edit in forms: a household, a visit's household, a
contract, a grid or gas work, a reserve (and the reports to come).

Each such model is `Versioned`: its version counts the writes. A form carries the version it
showed (a hidden field); the writer, inside its transaction and after its locks, refuses the save
when the stored version moved on meanwhile, so that the second of two officials editing one record
is told instead of silently undoing the first one's change. Imports bump the version too: a form
opened before an upload is stale after it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from heating.forms import PortalForm

STALE = "该记录已被他人修改，请刷新后重试"
STALE_HOUSEHOLD = "该户已被他人修改，请刷新后重试"


class Versioned(models.Model):
    # db_default: the ledger's set-based writes insert rows without naming it.
    version = models.PositiveIntegerField("版本", default=0, db_default=0, editable=False)

    class Meta:
        abstract = True


def check_version(stored: int, expected: int | None, message: str = STALE) -> None:
    """Refuse a write made on a copy older than the stored row (None: no form, nothing to check)."""
    if expected is not None and expected != stored:
        raise ValidationError({NON_FIELD_ERRORS: [message]})


def next_version(instance: Versioned, expected: int | None, message: str = STALE) -> None:
    """Inside the writer's transaction, before the write: lock the stored row, check it against
    the form's `expected` version, and give the instance the next one."""
    if instance.pk is None:
        instance.version = 0
        return
    stored = (
        type(instance)
        ._default_manager.select_for_update(no_key=True)
        .filter(pk=instance.pk)
        .values_list("version", flat=True)
        .first()
    )
    check_version(stored or 0, expected, message)
    instance.version = (stored or 0) + 1


class VersionedForm(PortalForm):
    """A form's hidden copy of the version it showed; `expected_version` for the writer."""

    # Not "version": a model form may not name the model's own, non-editable field.
    seen_version = forms.IntegerField(
        label="版本", widget=forms.HiddenInput, required=False, min_value=0
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        if instance is not None and instance.pk is not None:
            self.fields["seen_version"].initial = instance.version

    @property
    def expected_version(self) -> int | None:
        version = self.cleaned_data.get("seen_version")
        return None if version is None else int(version)
