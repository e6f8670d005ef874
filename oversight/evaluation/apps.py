from __future__ import annotations

from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    """The performance self-evaluation (绩效自评, the plan's 五(四)): indicators and their scores,
    each dossier's completeness, and the pack the city hands in. On the top floor: it reads every
    domain app's figures and none imports it."""

    name = "oversight.evaluation"
    label = "evaluation"
    verbose_name = "绩效自评"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from retrofits.demo import register_demo_step

        # The demo city's year has the standard indicators, so that its rehearsal shows scores.
        register_demo_step("oversight.evaluation.services.demo_indicators", after_households=True)
