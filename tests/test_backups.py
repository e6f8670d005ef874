"""verify_backup restores a pg_dump into a scratch database and compares the counts per table,
and finds the uploaded files the database names in the media archive (PostgreSQL only)."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from heating.models import Role
from heating.services import user_create
from retrofits.models import Household, LedgerImport, TenderItem
from tests.ledger_files import row, xlsx

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("backups are of the production database: the PostgreSQL pass runs these")
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is missing beside PostgreSQL")


def dump(path: Path) -> Path:
    db = connection.settings_dict
    subprocess.run(
        ["pg_dump", "-Fc", "--host", db["HOST"], "--port", str(db["PORT"]),
         "--username", db["USER"], "--file", str(path), db["NAME"]],
        check=True,
    )  # fmt: skip
    return path


def verify(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_backup", *args, stdout=out)
    return out.getvalue()


def test_a_fresh_backup_restores_with_every_tables_count(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    call_command("import_ledger", str(xlsx(tmp_path, [row()])), stdout=io.StringIO())
    backup = dump(tmp_path / "heating.dump")

    printed = verify(str(backup))
    assert "备份校验通过" in printed
    household_line = next(
        line for line in printed.splitlines() if line.startswith("retrofits_household ")
    )
    assert household_line.split()[1:] == ["1", "1"]

    # A write after the dump: the counts differ and the check says where.
    user_create(username="later", password="x-Long-pass-1", role=Role.MUNICIPAL)
    with pytest.raises(CommandError, match="表 heating_user 行数不同"):
        verify(str(backup))
    assert "备份校验通过" in verify(str(backup), "--allow-changes")
    assert Household.objects.count() == 1  # the live database is untouched


def test_a_damaged_backup_is_refused(tmp_path: Path) -> None:
    backup = dump(tmp_path / "heating.dump")
    damaged = tmp_path / "damaged.dump"
    damaged.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    with pytest.raises(CommandError, match="备份无法恢复"):
        verify(str(damaged))


def test_the_media_archive_must_hold_every_file_the_database_names(
    tmp_path: Path, official_upload: LedgerImport
) -> None:
    backup = dump(tmp_path / "heating.dump")
    media = Path(settings.MEDIA_ROOT)
    stored = official_upload.file.name

    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(CommandError, match=f"上传文件备份中缺少：{stored}"):
        verify(str(backup), "--media", str(empty))

    whole = tmp_path / "media.tar.gz"
    with tarfile.open(whole, "w:gz") as tar:
        tar.add(media, arcname=".")
    assert "数据库引用 1 个" in verify(str(backup), "--media", str(whole))


@pytest.fixture
def official_upload(tmp_path: Path) -> LedgerImport:
    from django.core.files.base import ContentFile

    from heating.models import County

    job = LedgerImport(original_name="ledger.xlsx", county=County.objects.get(short_name="忻府区"))
    job.file.save("ledger.xlsx", ContentFile(xlsx(tmp_path, [row()]).read_bytes()))
    return job
