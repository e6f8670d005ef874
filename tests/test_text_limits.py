"""No free text without a limit: every text box of every form of the portal says how long its
text may be (a 1 MB note was once accepted and kept in the change record for good)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from import_export.formats.base_formats import XLSX

from heating.models import County, User
from retrofits.models import Household, TenderItem
from retrofits.resources import TenderItemResource
from tests.conftest import login

pytestmark = pytest.mark.django_db

APPS = ("heating", "retrofits", "acceptance", "energy_supply", "oversight")


def portal_forms() -> list[type[forms.BaseForm]]:
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" not in module.name and ".management" not in module.name:
                importlib.import_module(module.name)
    found: list[type[forms.BaseForm]] = []
    pending = [forms.BaseForm]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            pending.append(sub)
            meta = getattr(sub, "_meta", None)
            abstract = issubclass(sub, forms.BaseModelForm) and getattr(meta, "model", None) is None
            if sub.__module__.split(".")[0] in APPS and not abstract:
                found.append(sub)
    return found


def made(cls: type[forms.BaseForm], user: User) -> forms.BaseForm:
    """The form as a page makes it: what its constructor asks for by name, given."""
    given: dict[str, Any] = {
        "county": County.objects.get(short_name="忻府区"),
        "path": "electric",
        "user": user,
        "with_efficiency": True,
        # The admin's import and export forms (django-import-export).
        "formats": [XLSX],
        "resources": [TenderItemResource],
    }
    wanted = inspect.signature(cls.__init__).parameters
    return cls(**{name: value for name, value in given.items() if name in wanted})


def test_every_text_box_has_a_limit(official: User) -> None:
    found = portal_forms()
    assert {"HouseholdForm", "VisitForm", "ReportForm", "GasContractForm"} <= {
        f.__name__ for f in found
    }
    unlimited = []
    for cls in found:
        form = made(cls, official)
        for name, field in form.fields.items():
            # A text box someone types into (a hidden field's value is the form's own).
            typed = not isinstance(field.widget, forms.HiddenInput)
            if typed and isinstance(field, forms.CharField) and field.max_length is None:
                unlimited.append(f"{cls.__module__}.{cls.__name__}.{name}")
    assert unlimited == []


def test_a_note_too_long_is_refused_with_what_is_typed_kept(
    client: Client, official: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    from tests.test_household_views import form_data

    note = "备注" * 300  # 600 characters
    response = login(client, official).post(reverse("household-create"), form_data(notes=note))
    assert response.status_code == 200
    assert response.context["form"].errors["notes"] == ["最多 500 个字，现有 600 个字，请删减。"]
    assert not Household.objects.filter(code="XF-0100").exists()
