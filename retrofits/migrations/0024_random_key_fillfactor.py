"""The household indexes whose keys arrive in random order leave 30% of each leaf page free when
they are built (PostgreSQL only; REINDEX applies it to the rows already there).

A first load builds every index at PostgreSQL's default fill of 90%. A county's next upload then
adds a sixth to the table, in no order for these four keys (an ID number's and a code's reverse, a
name, a completion date), so nearly every leaf page of theirs split once: 2,200 splits for a
county's 30,000 households into the other 180,000, and 8 MB of the upload's 72 MB of WAL. At 70%
they fit where they land: a psql COPY of those rows 1.60 s to 1.50 s, the whole upload 0.17 s
faster (a slow machine, 6 alternated runs each; docs/import-performance.md). Random inserts leave
a B-tree about 70% full anyway, so these indexes are no larger than they become. The first load's
rebuild keeps the setting (pg_get_indexdef carries it)."""

from __future__ import annotations

from django.db import migrations

INDEXES = (
    "household_id_number_unique",
    "household_code_tail",
    "household_head_name",
    "household_completed_desc",
)


def built_with_room(apps, schema_editor):  # type: ignore[no-untyped-def]
    alter(schema_editor, "SET (fillfactor = 70)")


def built_full(apps, schema_editor):  # type: ignore[no-untyped-def]
    alter(schema_editor, "RESET (fillfactor)")


def alter(schema_editor, change: str) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"ALTER INDEX {name} {change}")
            schema_editor.execute(f"REINDEX INDEX {name}")


class Migration(migrations.Migration):
    dependencies = [("retrofits", "0023_rollup_keys_one_index")]
    operations = [migrations.RunPython(built_with_room, built_full)]
