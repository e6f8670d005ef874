"""The dashboard in a real browser (Debian's chromium): its charts and county map render.
Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from heating.models import Role
from heating.services import user_create
from retrofits.models import TenderItem
from retrofits.rollups import rollup_run
from tests import services

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.services,
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    # Playwright's sync API runs an event loop in this thread; the ORM calls beside it are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        if services.required():
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield launched
        launched.close()


def test_the_city_dashboard_renders_its_charts_and_map(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    TenderItem.objects.create(
        category="热泵",
        path="electric",
        model="KRS-8P",
        vendor="甲",
        rated_power_kw=8,
        unit_price=1,
    )
    TenderItem.objects.create(
        category="壁挂炉", path="gas", model="BG-20", vendor="乙", rated_power_kw=20, unit_price=1
    )
    call_command("generate_households", "--scale", "0.01", stdout=io.StringIO())
    rollup_run()
    user_create(username="shi", password="x-Long-pass-1", role=Role.MUNICIPAL)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "shi")
    page.fill("#id_password", "x-Long-pass-1")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/dashboard/")
    for chart in ("map", "funnel", "by-path", "trend"):
        page.wait_for_selector(f"#{chart} canvas", timeout=15000)
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert errors == []
    assert page.locator("[data-testid=progress-table] tbody tr").count() == 16
    assert page.inner_text("[data-testid=target]") == "209,683"
