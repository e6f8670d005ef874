"""Check a backup by restoring it: `verify_backup DUMP [--media ARCHIVE]`.

The dump (pg_dump's custom format, README "Backups") is restored with pg_restore into a scratch
database beside the live one; then the rows of every table are counted in both and compared, and
every file the restored database names (uploaded ledgers, error files, visit photos) is looked up
in the media archive. Run it right after the backup: a table whose count differs means the dump is
incomplete, or that the ledger changed in between (`--allow-changes` reports and passes that).
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import psycopg
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models
from psycopg import sql

TABLES = """
    SELECT table_name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name
"""


def _libpq(settings: dict[str, Any], name: str) -> dict[str, Any]:
    params = {
        "dbname": name,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
    }
    return {k: v for k, v in params.items() if v is not None}


def _counts(params: dict[str, Any]) -> dict[str, int]:
    with psycopg.connect(**params) as conn:
        tables = [row[0] for row in conn.execute(TABLES)]
        return {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))
            ).fetchone()[0]  # type: ignore[index]
            for t in tables
        }


def _named_files(params: dict[str, Any]) -> set[str]:
    """The media paths the database names, from every file field of every model."""
    names: set[str] = set()
    with psycopg.connect(**params) as conn:
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if isinstance(field, models.FileField):
                    query = sql.SQL("SELECT {c} FROM {t} WHERE {c} <> ''").format(
                        c=sql.Identifier(str(field.column)), t=sql.Identifier(model._meta.db_table)
                    )
                    names.update(row[0] for row in conn.execute(query))
    return names


class Command(BaseCommand):
    help = "Restore a pg_dump backup into a scratch database and compare it with the live one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dump", type=Path, help="pg_dump -Fc file")
        parser.add_argument("--media", type=Path, help="the media archive (tar, tar.gz)")
        parser.add_argument("--scratch", default="", help="scratch database (default: <db>_verify)")
        parser.add_argument("--keep", action="store_true", help="keep the scratch database")
        parser.add_argument(
            "--allow-changes", action="store_true", help="report differing counts, do not fail"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("verify_backup 需要 PostgreSQL（生产数据库）。")
        dump: Path = options["dump"]
        if not dump.is_file():
            raise CommandError(f"找不到备份文件：{dump}")
        live_settings = connection.settings_dict
        live = _libpq(live_settings, live_settings["NAME"])
        scratch_name = options["scratch"] or f"{live_settings['NAME']}_verify"
        if scratch_name == live_settings["NAME"]:
            raise CommandError("临时数据库不能是正在使用的数据库。")
        scratch = _libpq(live_settings, scratch_name)
        maintenance = _libpq(live_settings, "postgres")

        with psycopg.connect(**maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(scratch_name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch_name)))
        try:
            self._restore(dump, scratch)
            problems = self._compare(_counts(live), _counts(scratch), options["allow_changes"])
            if options["media"]:
                problems += self._check_media(options["media"], _named_files(scratch))
        finally:
            if not options["keep"]:
                with psycopg.connect(**maintenance, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(scratch_name))
                    )
        if problems:
            raise CommandError("备份校验未通过：\n" + "\n".join(problems))
        self.stdout.write(self.style.SUCCESS("备份校验通过：每张表的行数与在用数据库一致。"))

    def _restore(self, dump: Path, scratch: dict[str, Any]) -> None:
        env = {**os.environ}
        if "password" in scratch:
            env["PGPASSWORD"] = scratch["password"]
        command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error"]
        for flag, key in (("--host", "host"), ("--port", "port"), ("--username", "user")):
            if key in scratch:
                command += [flag, str(scratch[key])]
        command += ["--dbname", scratch["dbname"], str(dump)]
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise CommandError(f"备份无法恢复（pg_restore）：{result.stderr.strip()[:2000]}")

    def _compare(self, live: dict[str, int], backup: dict[str, int], allow: bool) -> list[str]:
        problems = []
        width = max(map(len, live | backup))
        self.stdout.write(f"{'table':<{width}} {'live':>10} {'backup':>10}")
        for table in sorted(live | backup):
            here, there = live.get(table), backup.get(table)
            mark = "" if here == there else "  ←"
            self.stdout.write(f"{table:<{width}} {here if here is not None else '—':>10} "
                              f"{there if there is not None else '—':>10}{mark}")  # fmt: skip
            if there is None:
                problems.append(f"备份中缺少表 {table}")
            elif here is None:
                problems.append(f"备份中多出表 {table}（在用数据库已无此表）")
            elif here != there and not allow:
                problems.append(f"表 {table} 行数不同：在用 {here}，备份 {there}")
        return problems

    def _check_media(self, archive: Path, named: set[str]) -> list[str]:
        try:
            with tarfile.open(archive) as tar:
                files = {m.name.removeprefix("./") for m in tar.getmembers() if m.isfile()}
        except (OSError, tarfile.TarError) as exc:
            raise CommandError(f"无法读取上传文件的备份：{exc}") from exc
        missing = sorted(named - files)
        self.stdout.write(f"上传文件：数据库引用 {len(named)} 个，备份中 {len(files)} 个")
        return [f"上传文件备份中缺少：{name}" for name in missing[:20]] + (
            [f"……共缺少 {len(missing)} 个文件"] if len(missing) > 20 else []
        )
