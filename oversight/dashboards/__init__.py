"""The top floor: dashboards, the progress API and export, and the read side of the rollups.

It imports the domain apps (retrofits, acceptance, energy_supply) to show their figures side by
side; no domain app imports it.
"""
