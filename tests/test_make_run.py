"""`make run` serves what production serves: DEBUG off, so that a missing page is the Chinese 404 (not
Django's English debug page listing every URL), and the static files come from WhiteNoise."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def run_recipe() -> list[str]:
    """The commands `make run` would run after its set-up, as make prints them."""
    # Under `make test` this is a sub-make, which would print the directories it enters.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "run"],
        cwd=ROOT, capture_output=True, text=True, check=True, env=env,
    ).stdout.splitlines()  # fmt: skip
    start = next(i for i, line in enumerate(printed) if "collectstatic" in line)
    return printed[start:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_make_run_serves_with_debug_off(tmp_path: Path) -> None:
    collect, serve = run_recipe()
    assert "DEBUG=0" in serve and "HTTPS=0" in serve
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    # Its secret key comes from local.env, as on a developer's checkout.
    env.pop("DEBUG", None)
    env.pop("SECRET_KEY", None)
    if not (ROOT / "local.env").exists():
        subprocess.run(["make", "local.env"], cwd=ROOT, check=True, env=env)
    subprocess.run(collect, shell=True, cwd=ROOT, check=True, env=env)
    port = free_port()
    server = subprocess.Popen(
        serve.replace("127.0.0.1:8000", f"127.0.0.1:{port} --noreload"),
        shell=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # the shell and the server it starts stop together
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                status, page = fetch(f"http://127.0.0.1:{port}/no-such-page/")
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer")
        assert status == 404
        assert "未找到" in page and "URLconf" not in page and "Page not found" not in page
        # Plain http on this machine: not redirected to https, and the policy is sent.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/") as login:
            assert login.status == 200 and login.url.startswith("http://")
            assert "script-src 'self'" in login.headers["Content-Security-Policy"]
        status, css = fetch(f"http://127.0.0.1:{port}/static/css/portal.css")
        assert status == 200 and ".toolbar" in css
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
