from __future__ import annotations

from django.apps import AppConfig


class RetrofitsConfig(AppConfig):
    name = "retrofits"
    verbose_name = "改造台账"

    def ready(self) -> None:
        from heating.exports import register_export
        from retrofits import exports

        # A large ledger export is made in the background, with a progress bar.
        register_export(exports.KIND, exports.ledger_file)
