from __future__ import annotations

from django.apps import AppConfig


class OversightConfig(AppConfig):
    """The city's oversight of the programme, the top floor: the dashboards, dispatch (its own app,
    oversight.dispatch, for its models) and the evaluation pack. It reads every domain app;
    none imports it (tests/test_layout.py)."""

    name = "oversight"
    verbose_name = "全市督导"
