"""The suite's settings: the portal's own, with DEBUG asked for as on a developer's checkout (so
that static files need no collectstatic) whatever local.env says; pytest-django still turns DEBUG
off while the tests run. Processes the tests start inherit the same environment."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "tests-only-not-secret")

from heating.settings import *  # noqa: F403

# A test's transaction is not seen from another thread: exports run where they are queued.
EXPORTS_IN_THREAD = False
