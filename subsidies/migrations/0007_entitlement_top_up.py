"""补差: an entitlement's top-up number. SQLite rebuilds the entitlements' table to change its
unique key, and a trigger naming a table being rebuilt fails: the policy lock (0002) is taken off
for the rebuild and put back after it, on SQLite only."""

import importlib
from typing import Any

from django.db import migrations, models

locked = importlib.import_module("subsidies.migrations.0002_policy_locked_trigger")


def sqlite_off(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        locked.drop(apps, schema_editor)


def sqlite_on(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        locked.create(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('heating', '0007_subsidies_roles_and_seasons'),
        ('retrofits', '0021_rollup_keys_from_households'),
        ('subsidies', '0006_batchline_answered_at'),
    ]

    operations = [
        migrations.RunPython(sqlite_off, sqlite_on),
        migrations.AlterModelOptions(
            name='entitlement',
            options={'ordering': ['household', 'season', 'kind', 'top_up'], 'verbose_name': '补贴核算', 'verbose_name_plural': '补贴核算'},
        ),
        migrations.RemoveConstraint(
            model_name='entitlement',
            name='entitlement_once_per_season',
        ),
        migrations.AddField(
            model_name='entitlement',
            name='top_up',
            field=models.PositiveSmallIntegerField(db_default=0, default=0, verbose_name='补差次序'),
        ),
        migrations.AddConstraint(
            model_name='entitlement',
            constraint=models.UniqueConstraint(fields=('household', 'kind', 'season', 'top_up'), name='entitlement_once_per_season'),
        ),
        migrations.RunPython(sqlite_on, sqlite_off),
    ]
