"""Compiles the portal's own Chinese (locale/*/LC_MESSAGES/django.po) into the .mo files Django
reads, with polib rather than GNU gettext's msgfmt, so that nothing but Python is needed:
`make locale`. The .mo files are committed; a test checks they match their .po."""

from __future__ import annotations

import sys
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale"


def compiled(po: Path) -> bytes:
    """The .mo bytes of a .po file."""
    catalog = polib.pofile(str(po))
    out = po.with_suffix(".mo.tmp")
    try:
        catalog.save_as_mofile(str(out))
        return out.read_bytes()
    finally:
        out.unlink(missing_ok=True)


def main() -> None:
    for po in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
        po.with_suffix(".mo").write_bytes(compiled(po))
        print(po.with_suffix(".mo").relative_to(LOCALE.parent), file=sys.stderr)


if __name__ == "__main__":
    main()
