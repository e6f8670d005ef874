"""Are PostgreSQL and Redis reachable? Used by `make test` and by tests that need them.

`python -m tests.services postgres` exits 0 when PostgreSQL answers, 1 when it does not, and 2 when it
does not while REQUIRE_SERVICES=1 (CI), so that a missing service fails the run instead of skipping.
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlparse

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def reachable(url: str, timeout: float = 1.0) -> bool:
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout):
            return True
    except OSError:
        return False


def main(name: str) -> int:
    url = {"postgres": POSTGRES_URL, "redis": REDIS_URL}[name]
    if reachable(url):
        return 0
    if required():
        print(f"{name} at {url} is down and REQUIRE_SERVICES=1", file=sys.stderr)
        return 2
    print(f"{name} at {url} is down: skipping what needs it", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
