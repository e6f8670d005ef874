"""A ledger upload processed by a real Celery worker through Redis, against real PostgreSQL.

The worker is another process, so it only sees committed rows: the test is transactional (pytest-django
runs such tests last, then empties the database). It runs in the PostgreSQL pass of `make test`; with
REQUIRE_SERVICES=1 (CI) a missing Redis fails it instead of skipping it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from kombu import pools

from heating.celery import app
from heating.models import County, Role
from heating.services import user_create
from retrofits.ledger.jobs import ledger_import_start
from retrofits.models import Household, LedgerImport, TenderItem
from tests import services
from tests.ledger_files import IDS, row, xlsx

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def worker() -> Iterator[None]:
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs a shared database: runs in the PostgreSQL pass")
    if not services.reachable(services.REDIS_URL):
        if services.required():
            pytest.fail(f"Redis at {services.REDIS_URL} is down and REQUIRE_SERVICES=1")
        pytest.skip("Redis is down")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": services.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEBUG": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "heating.celery",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
        ],
        env=env,
        cwd=settings.BASE_DIR,
    )
    eager, broker = app.conf.task_always_eager, app.conf.broker_url
    app.conf.update(task_always_eager=False, broker_url=services.REDIS_URL)
    _drop_connections()
    app.connection_for_write().default_channel.client.flushdb()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        app.conf.update(task_always_eager=eager, broker_url=broker)
        _drop_connections()
        process.terminate()
        process.wait(timeout=20)


def _drop_connections() -> None:
    """Forget pooled broker connections made under the previous broker URL (the in-memory one)."""
    pools.reset()  # kombu's registry, which would hand out pools closed or bound to the old URL
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


def test_a_real_worker_imports_an_uploaded_ledger(worker: None, tmp_path: Path) -> None:
    county = County.objects.get(short_name="忻府区")
    user = user_create(
        username="worker-test", password="x-Long-pass-1", role=Role.COUNTY, county=county
    )
    TenderItem.objects.create(
        category="空气源热泵",
        path="electric",
        model="KRS-8P",
        vendor="甲",
        rated_power_kw=8,
        unit_price=1,
    )
    path = xlsx(tmp_path, [row(户编号="W-1"), row(户编号="W-2", 身份证号=IDS[1])])
    upload = SimpleUploadedFile("ledger.xlsx", path.read_bytes())
    job = ledger_import_start(upload=upload, user=user)  # autocommit: enqueued at once
    deadline = time.monotonic() + 60
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.3)
        job.refresh_from_db()
    assert job.status == LedgerImport.Status.SUCCEEDED, job.message
    assert job.created_count == 2
    assert sorted(Household.objects.values_list("code", flat=True)) == ["W-1", "W-2"]
