#!/usr/bin/env python
from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heating.settings")
    arguments = sys.argv[2:]
    if sys.argv[1:2] == ["import_ledger"] and not any(
        a.startswith(("--settings", "--pythonpath")) for a in arguments
    ):
        # The ledger file starts being parsed, in its sandboxed reader, while Django loads its
        # apps (heating.sheets.prestart). Not with other settings named: these read the default.
        from heating.sheets import prestart

        prestart(arguments)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
