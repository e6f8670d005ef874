from __future__ import annotations

from heating.celery import app
from retrofits.ledger.jobs import ledger_import_run, sweep_stuck_imports
from retrofits.services.rollups import due_rollup_run, rollup_run


@app.task(acks_late=True)
def run_ledger_import(job_id: int) -> None:
    ledger_import_run(job_id=job_id)


@app.task(acks_late=True)
def run_rollup(counties: list[int] | None = None) -> None:
    rollup_run(counties)


@app.task(acks_late=True)
def run_due_rollup() -> None:
    due_rollup_run()


@app.task(acks_late=True)
def sweep_imports() -> None:
    sweep_stuck_imports()
