"""The core's background work: files made for a user (heating/exports.py)."""

from __future__ import annotations

from heating.celery import app
from heating.services import export_run, exports_sweep


@app.task
def run_export(job_id: int) -> None:
    export_run(job_id=job_id)


@app.task
def sweep_exports() -> int:
    return exports_sweep()
