"""Production defaults: with nothing set, DEBUG is off and the server refuses to start without a
secret key; `check --deploy` is clean with production's settings; every page carries a
Content-Security-Policy that allows no inline script, and no template of ours has one."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from heating.models import User
from tests.conftest import login

ROOT = Path(settings.BASE_DIR)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """manage.py in an environment holding only `env`: no local.env, no DEBUG, no secret."""
    base = {"PATH": "/usr/bin:/bin", "LOCAL_ENV": "/nonexistent", "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "heating.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_with_nothing_set_the_server_refuses_to_start_without_a_secret() -> None:
    result = manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_with_only_a_secret_debug_is_off_and_https_on() -> None:
    script = "from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE)"
    result = manage("shell", "-v", "0", "-c", script, SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_check_deploy_is_clean_with_productions_settings(tmp_path: Path) -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="heating.xinzhou.gov.cn",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_pages_carry_a_policy_without_inline_script(client: Client, official: User) -> None:
    response = login(client, official).get(reverse("household-list"))
    policy = response["Content-Security-Policy"]
    scripts = re.search(r"script-src ([^;]*)", policy)
    assert scripts is not None and scripts.group(1).strip() == "'self'"
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>|\son[a-z]+=|javascript:"
)


def test_no_template_of_ours_has_inline_script() -> None:
    templates = [
        path
        for folder in ("templates", "heating", "retrofits", "energy_supply", "acceptance")
        for path in (ROOT / folder).rglob("*.html")
    ]
    assert len(templates) > 30
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in templates
        for match in INLINE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "inline script is refused by the policy; use static/js/portal.js"
