"""The household's identifier columns compare byte by byte (collation "C") on PostgreSQL.

Codes, ID numbers and the fixed choices are ASCII identifiers, and a name is only ever searched for
whole: byte order is all they need, and it is the order the databases' C.UTF-8 gives anyway. What
changes is speed: PostgreSQL sorts "C" text by memcmp and abbreviated keys, and builds the ledger's
indexes in two thirds of the time (a city's first load rebuilds them all). SQLite compares bytes
already. The models do not carry db_collation because SQLite has no collation named "C"; an
AlterField on these columns must keep COLLATE "C" on PostgreSQL by hand.
"""

from __future__ import annotations

from django.db import migrations

TABLE = "retrofits_household"
COLUMNS = {
    "code": "varchar(32)",
    "head_name": "varchar(50)",
    "id_number": "varchar(18)",
    "area": "varchar(8)",
    "path": "varchar(16)",
    "stage": "varchar(16)",
}


def alter(collation: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            changes = ", ".join(
                f'ALTER COLUMN {name} TYPE {kind} COLLATE "{collation}"'
                for name, kind in COLUMNS.items()
            )
            schema_editor.execute(f"ALTER TABLE {TABLE} {changes}")

    return run


class Migration(migrations.Migration):
    dependencies = [("retrofits", "0004_head_name_index")]
    operations = [migrations.RunPython(alter("C"), alter("default"))]
