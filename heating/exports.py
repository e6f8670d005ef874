"""Files made in the background for the user who asked (a whole city's ledger export; later the
evaluation pack): the page shows a progress bar and, when the file is ready, a link to it, instead
of holding a request open while a minute of rows is written.

An app registers what it can make (`register_export`, from its AppConfig.ready()); the services
`export_start`, `export_run` and `exports_sweep` (heating/services.py) record a job, make its file
(in Celery, or a thread of this process under `make run`, so that the page answers at once there
too) and delete the files a day later. Only the user who asked downloads the file, and the
download is kept like any look at personal data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from heating.models import ExportJob

KEEP = dt.timedelta(days=1)  # a file waits this long for its download
STUCK_AFTER = dt.timedelta(minutes=30)  # a job running this long lost its worker
FAILED = "导出时发生系统错误，请重试；如再次失败，请联系系统管理员。"


@dataclass(frozen=True)
class Made:
    data: bytes
    file_name: str
    personal_households: int = 0  # households shown with full ID card and phone numbers


Progress = Callable[[int, int], None]  # (done, total)
Exporter = Callable[[ExportJob, Progress], Made]
EXPORTERS: dict[str, Exporter] = {}


def register_export(kind: str, exporter: Exporter) -> None:
    EXPORTERS[kind] = exporter
