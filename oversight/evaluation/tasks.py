"""The pack is made in the background: a whole city's figures, charts and a PDF of dossiers take
longer than a request should wait (under `make run` the task runs in-process)."""

from __future__ import annotations

from heating.celery import app
from oversight.evaluation.services import pack_make


@app.task(acks_late=True)
def make_pack(pack_id: int) -> None:
    pack_make(pack_id=pack_id)
