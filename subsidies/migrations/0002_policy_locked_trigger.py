"""A policy under which a paid subsidy was computed never changes: Policy.save() refuses it with
the message, and the database refuses any UPDATE that passes the model by (a queryset update,
the shell, SQL). A DELETE is refused by the entitlements' foreign key already (PROTECT, and the
database's own constraint); a trigger on it would also stop a test database's flush, which
empties the tables with their constraints off."""

from __future__ import annotations

from typing import Any

from django.db import migrations

MESSAGE = "该补贴标准已用于已发放的补贴，不能修改"
PAID = "EXISTS (SELECT 1 FROM subsidies_entitlement WHERE policy_id = OLD.id AND status = 'paid')"

POSTGRES = f"""
CREATE OR REPLACE FUNCTION subsidies_policy_locked() RETURNS trigger AS $$
BEGIN
  IF {PAID} THEN
    RAISE EXCEPTION '{MESSAGE}';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER subsidies_policy_locked BEFORE UPDATE ON subsidies_policy
  FOR EACH ROW EXECUTE FUNCTION subsidies_policy_locked();
"""
SQLITE = [
    f"CREATE TRIGGER subsidies_policy_locked_{op.lower()} BEFORE {op} ON subsidies_policy"
    f" WHEN {PAID} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    for op in ("UPDATE",)
]


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES)
    else:
        for statement in SQLITE:
            schema_editor.execute(statement)


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER subsidies_policy_locked ON subsidies_policy")
        schema_editor.execute("DROP FUNCTION subsidies_policy_locked()")
    else:
        for op in ("update",):
            schema_editor.execute(f"DROP TRIGGER subsidies_policy_locked_{op}")


class Migration(migrations.Migration):
    dependencies = [("subsidies", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
