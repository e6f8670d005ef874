"""The fuel a household no retrofit reaches burns in a season, until the bureau sets its own figures
in the admin (燃料储备标准)."""

from decimal import Decimal

from django.db import migrations

DEFAULTS = {"clean_coal": Decimal("2.5"), "biomass_pellets": Decimal("2.0")}


def seed(apps, schema_editor):
    ReserveNorm = apps.get_model("energy_supply", "ReserveNorm")
    for fuel, tonnes in DEFAULTS.items():
        ReserveNorm.objects.get_or_create(fuel=fuel, defaults={"tonnes_per_household": tonnes})


class Migration(migrations.Migration):
    dependencies = [("energy_supply", "0001_supply")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
