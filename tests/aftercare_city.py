"""The demo city as the aftercare tests need it: the households, their supply and acceptance, and
aftercare's own step; the other apps' demo steps (dispatch, subsidies) are left out, so that these
tests test what they are about."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management import call_command

from retrofits.demo import AFTER_HOUSEHOLDS, BEFORE_HOUSEHOLDS

WANTED = ("energy_supply", "acceptance", "aftercare")


@contextmanager
def only_the_steps_wanted() -> Iterator[None]:
    saved = list(BEFORE_HOUSEHOLDS), list(AFTER_HOUSEHOLDS)
    for steps in (BEFORE_HOUSEHOLDS, AFTER_HOUSEHOLDS):
        steps[:] = [s for s in steps if s.__module__.split(".")[0] in WANTED]
    try:
        yield
    finally:
        BEFORE_HOUSEHOLDS[:], AFTER_HOUSEHOLDS[:] = saved


def generate(*args: str) -> str:
    """The 1% city (`generate_households --scale 0.01`), what it said."""
    out = io.StringIO()
    with only_the_steps_wanted():
        call_command("generate_households", "--scale", "0.01", *args, stdout=out)
    return out.getvalue()
