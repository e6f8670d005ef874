"""Supply's background work: an uploaded file's import, and the sweep of imports whose worker
died (energy_supply/services/jobs.py)."""

from __future__ import annotations

from energy_supply.services.jobs import supply_import_run, supply_imports_sweep
from heating.celery import app


@app.task(acks_late=True)
def run_supply_import(job_id: int) -> None:
    supply_import_run(job_id=job_id)


@app.task(acks_late=True)
def sweep_supply_imports() -> int:
    return supply_imports_sweep()
