"""Real-browser tests (Debian's chromium): the dashboard's charts and map render; an inspector on a
375 px phone records a failing visit with two photos and a passing revisit. Screenshots are kept in
test-artifacts/."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from heating.management.commands.create_demo_users import DEMO_PASSWORD, demo_users
from heating.models import County, Role
from heating.services import user_create
from retrofits.models import Household, TenderItem
from retrofits.services.rollups import rollup_run
from tests import services, tour

# A real 1×1 JPEG, so that the dossier shows the photos as images.
TINY_JPEG = (
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////"
    "////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)
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
    if not has_cjk_font():
        # Every Chinese character would be drawn as a box: the screenshots would show nothing
        # and the tour would take its pages for blank.
        if services.required():
            pytest.fail(
                "no Chinese font: .ci/run installs one (apt-get install fonts-wqy-microhei)"
            )
        pytest.skip("no Chinese font is installed (fonts-wqy-microhei)")
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


def has_cjk_font() -> bool:
    """Whether fontconfig, which chromium draws its text with, knows a font for Chinese."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True)
    return bool(found.stdout.strip())


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


def test_an_inspector_on_a_phone_fails_then_passes_a_household(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    from tests.ledger_files import row, xlsx

    TenderItem.objects.create(
        category="热泵",
        path="electric",
        model="KRS-8P",
        vendor="甲",
        rated_power_kw=8,
        unit_price=1,
    )
    call_command(
        "import_ledger",
        str(xlsx(tmp_path, [row(实施进度="已完工", 完工日期=dt.date(2023, 10, 10))])),
        stdout=io.StringIO(),
    )
    user_create(
        username="yanshou", password="x-Long-pass-1", role=Role.INSPECTOR,
        counties=[County.objects.get(short_name="忻府区")],
    )  # fmt: skip
    photos = []
    for name in ("front.jpg", "unit.jpg"):
        path = tmp_path / name
        path.write_bytes(base64.b64decode(TINY_JPEG))
        photos.append(str(path))

    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(
        viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "yanshou")
    page.fill("#id_password", "x-Long-pass-1")
    page.click("button[type=submit]")
    page.wait_for_selector("ul.worklist")  # an inspector lands on their worklist
    assert page.url.endswith("/acceptance/")
    page.screenshot(path=str(ARTIFACTS / "phone-worklist.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling

    header = page.evaluate("document.querySelector('header.topbar').offsetHeight")
    assert header < 80, header  # the menu folds behind one button
    page.click("[data-testid=menu-button]")
    assert page.is_visible("nav.nav >> text=验收工作")
    page.click("[data-testid=menu-button]")

    page.click("text=张三")
    page.uncheck("#id_check_temperature")
    page.check("input[name=result][value=failed]")
    page.fill("#id_visited_at", "2023-10-20T10:00")
    page.set_input_files("#id_photos", photos)
    # Failing without a defect: the errors come back at the top, the photos stay chosen.
    page.click("button:has-text('保存验收记录')")
    page.wait_for_selector("[data-testid=error-summary]")
    assert "不合格须列出问题和整改期限" in page.inner_text("[data-testid=error-summary]")
    top = page.evaluate(
        "document.querySelector('[data-testid=error-summary]').getBoundingClientRect().top"
    )
    assert 0 <= top < 740, top  # in view, not below the fold
    assert page.evaluate("document.getElementById('id_photos').files.length") == 2
    page.fill("#id_defect_0", "室温不达标")
    page.fill("#id_rectify_by_0", "2023-10-28")
    page.screenshot(path=str(ARTIFACTS / "phone-visit-failing.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.click("button:has-text('保存验收记录')")
    page.wait_for_selector("text=已记录验收")  # back on the worklist, the next household at hand

    page.click("ul.worklist >> text=张三")  # the failed household waits for its revisit
    assert "室温不达标" in page.inner_text("[data-testid=open-defects]")
    for item in ("model_matches", "installed", "temperature", "wiring"):
        page.check(f"#id_check_{item}")
    page.check("input[name=result][value=passed]")
    page.fill("#id_visited_at", "2023-10-29T09:30")
    page.click("button:has-text('保存验收记录')")
    page.wait_for_selector("text=已记录验收")
    assert "没有待验收的户" in page.inner_text("ul.worklist")
    page.click("text=查看一户一档")
    page.wait_for_selector("[data-testid=inspections]")
    page.screenshot(path=str(ARTIFACTS / "phone-dossier.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    text = page.inner_text("[data-testid=inspections]")
    assert "不合格" in text and "合格" in text and "已复验" in text
    assert page.locator("[data-testid=inspections] .photos img").count() == 2
    assert "已验收" in page.inner_text(".dossier")
    assert Household.objects.get().stage == "accepted"


def test_the_supply_warnings_the_map_by_supply_and_a_countys_figures(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    demo_city("--as-of", "2023-10-25")  # the key project behind its milestones
    user_create(username="shi", password="x-Long-pass-1", role=Role.MUNICIPAL)

    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "shi")
    page.fill("#id_password", "x-Long-pass-1")
    page.click("button[type=submit]")
    warnings = page.locator("[data-testid=warnings] li")
    kinds = {warnings.nth(i).get_attribute("class") for i in range(warnings.count())}
    assert kinds >= {"warning-grid", "warning-gas", "warning-reserve", "warning-project"}
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home-warnings.png"), full_page=True)

    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_selector("#map canvas", timeout=15000)
    page.select_option("#map-metric", "gas")
    page.wait_for_function("() => document.getElementById('map').dataset.metric === 'gas'")
    page.screenshot(path=str(ARTIFACTS / "dashboard-map-gas.png"), full_page=True)

    page.goto(f"{live_server.url}/")
    page.click("[data-testid=warnings] li.warning-grid a")  # where to fix it
    assert "/supply/upgrades/?county=" in page.url and "unfinished=1" in page.url
    waiting = page.url.split("county=", 1)[1].split("&", 1)[0]
    page.goto(f"{live_server.url}/counties/{waiting}/")
    assert "等待电网改造" in page.inner_text(f"[data-testid=energy-{waiting}]")
    yuanping = County.objects.get(short_name="原平市").pk
    page.goto(f"{live_server.url}/counties/{yuanping}/")
    assert "同华电厂长输管线供热" in page.inner_text(f"[data-testid=energy-{yuanping}]")
    page.screenshot(path=str(ARTIFACTS / "county-supply.png"), full_page=True)
    assert errors == []


def log_in(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "x-Long-pass-1")
    page.click("button[type=submit]")


def demo_city(*args: str) -> None:
    """The 1% demo city with its supply and visits, counted (on the day --as-of tells)."""
    for model, path in (("KRS-8P", "electric"), ("BG-20", "gas")):
        TenderItem.objects.create(
            category="设备", path=path, model=model, vendor="甲", rated_power_kw=8, unit_price=1
        )
    quiet = io.StringIO()
    call_command("generate_households", "--scale", "0.01", *args, stdout=quiet)


# The right edge of every text a chart drew, and the texts themselves (ECharts draws on a canvas).
CHART_TEXTS = """(id) => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  return chart.getZr().storage.getDisplayList()
    .filter((el) => el.style && typeof el.style.text === "string" && el.style.text)
    .map((el) => {
      const r = el.getBoundingRect().clone();
      if (el.transform) r.applyTransform(el.transform);
      return { text: el.style.text, x: r.x, y: r.y, w: r.width, h: r.height };
    });
}"""


def test_the_city_dashboards_labels_fit_and_say_each_figure_once(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    demo_city()
    user_create(username="shi", password="x-Long-pass-1", role=Role.MUNICIPAL)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, live_server, "shi")
    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_selector("#funnel canvas", timeout=15000)
    page.wait_for_selector("#map canvas", timeout=15000)
    page.wait_for_timeout(800)
    width = page.evaluate("echarts.getInstanceByDom(document.getElementById('funnel')).getWidth()")
    funnel = page.evaluate(CHART_TEXTS, "funnel")
    assert funnel and all(t["x"] + t["w"] <= width + 1 for t in funnel), funnel
    assert any(re.search(r"\d,\d{3}$", t["text"]) for t in funnel), funnel  # 2,096, not 2096
    texts = page.evaluate(CHART_TEXTS, "map")
    shown = [t["text"] for t in texts]
    assert shown.count("100%") == 1 and shown.count("50% 以下") == 1
    assert "100" not in shown and "0" not in shown
    # The map's colours step: 93.9% is not painted as 100% is.
    colour = """([id, v]) => {
      const chart = echarts.getInstanceByDom(document.getElementById(id));
      const pieces = chart.getOption().visualMap[0].pieces;
      const piece = pieces.find((p) => (p.gte === undefined || v >= p.gte) && (p.lt === undefined || v < p.lt));
      return piece.color;
    }"""
    assert page.evaluate(colour, ["map", 93.9]) != page.evaluate(colour, ["map", 100])
    # 分路径 draws rates: 原平市's 150,000 households cannot flatten the other counties' bars.
    axis = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('by-path')).getOption().xAxis[0]"
    )
    assert (axis["min"], axis["max"]) == (0, 100)
    table = page.evaluate(
        "(() => { const w = document.querySelector('[data-testid=progress-table]').closest('.table-wrap'); return [w.scrollWidth, w.clientWidth]; })()"
    )
    assert table[0] <= table[1] + 1, table
    (xinfu,) = [t for t in texts if t["text"] == "忻府区"]
    (city,) = [t for t in texts if t["text"] == "忻州城区"]
    apart = (
        xinfu["x"] + xinfu["w"] <= city["x"] or city["x"] + city["w"] <= xinfu["x"]
        or xinfu["y"] + xinfu["h"] <= city["y"] or city["y"] + city["h"] <= xinfu["y"]
    )  # fmt: skip
    assert apart, (xinfu, city)


def test_the_household_list_fits_1366_and_its_filters_follow_each_other(
    browser: Any, live_server: Any
) -> None:
    demo_city()
    user_create(username="shi", password="x-Long-pass-1", role=Role.MUNICIPAL)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, live_server, "shi")
    page.goto(f"{live_server.url}/households/")
    wrap = page.evaluate(
        "(() => { const w = document.querySelector('.table-wrap'); return [w.scrollWidth, w.clientWidth]; })()"
    )
    assert wrap[0] <= wrap[1] + 1, wrap  # 完工日期 and 低收入 without a sideways scroll
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert page.locator("#id_low_income option").first.inner_text() == "全部"
    assert page.locator("#id_township option").count() == 1  # no county chosen yet
    page.select_option("#id_county", label="定襄县")
    page.wait_for_function("() => document.querySelectorAll('#id_township option').length > 1")
    page.select_option("#id_township", index=1)
    page.wait_for_function("() => document.querySelectorAll('#id_village option').length > 1")
    assert page.locator("#id_village option").first.inner_text() == "全部"
    page.screenshot(path=str(ARTIFACTS / "households-1366.png"), full_page=True)


def test_the_household_list_searches_as_people_type(browser: Any, live_server: Any) -> None:
    """Typing the beginning of a name changes the list without pressing Enter or 筛选."""
    demo_city()
    user_create(username="shi", password="x-Long-pass-1", role=Role.MUNICIPAL)
    first = Household.objects.order_by("code").first()
    assert first is not None
    typed = first.head_name[:2]
    expected = Household.objects.filter(head_name__startswith=typed).count()
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, live_server, "shi")
    page.goto(f"{live_server.url}/households/")
    before = page.inner_text("[data-testid=household-count]")
    with page.expect_request(lambda r: "q=" in r.url and "/households/" in r.url):
        page.type("#id_q", typed, delay=80)
    page.wait_for_function(
        "(before) => document.querySelector('[data-testid=household-count]').innerText !== before",
        arg=before,
    )
    assert page.inner_text("[data-testid=household-count]") == f"共 {expected:,} 户"
    names = page.locator("[data-testid=households] tbody tr td:nth-child(2)").all_inner_texts()
    assert names and all(name.startswith(typed) for name in names)
    assert "q=" in page.url  # the address keeps the search, for back and reload


def test_phone_pages_do_not_scroll_sideways(browser: Any, live_server: Any) -> None:
    demo_city()
    user_create(
        username="yanshou", password="x-Long-pass-1", role=Role.INSPECTOR,
        counties=[County.objects.get(short_name="忻府区")],
    )  # fmt: skip
    household = Household.objects.filter(county__short_name="忻府区").first()
    assert household is not None
    page = browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
    log_in(page, live_server, "yanshou")
    for url in (
        f"/counties/{household.county_id}/",
        f"/households/{household.pk}/",
        f"/acceptance/households/{household.pk}/visit/"
        if household.stage == "completed"
        else "/acceptance/",
    ):
        page.goto(f"{live_server.url}{url}")
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, url
        overflowing = page.evaluate(
            "[...document.querySelectorAll('.table-wrap')].filter(w => w.scrollWidth > w.clientWidth + 1).length"
        )
        assert overflowing == 0, url
    page.screenshot(path=str(ARTIFACTS / "phone-county.png"), full_page=True)


def test_the_admins_user_page_speaks_chinese(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    user_create(username="root", password="x-Long-pass-1", role=Role.ADMIN)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, live_server, "root")
    root = __import__("heating.models", fromlist=["User"]).User.objects.get(username="root")
    page.goto(f"{live_server.url}/admin/heating/user/{root.pk}/change/")
    page.wait_for_selector(".selector-chooseall")
    text = page.inner_text("body")
    for english in ("Choose all", "by selecting them", "Remove all", "Choose selected"):
        assert english not in text
    assert "全选" in text


def test_the_screenshot_tour_sees_every_main_page_of_every_role(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    """The tour `make screenshots` takes of the whole city, here of the 1% city in the middle of
    acceptance (work in every inspector's list): every page it reaches answers, without a script
    error, and the phone's pages do not scroll sideways."""
    demo_city("--as-of", "2023-10-25")
    demo_users()
    out = ARTIFACTS / "tour"
    tours = {
        t.name: t for t in tour.run_tours(browser, live_server.url, out, password=DEMO_PASSWORD)
    }

    problems = [
        (name, stop.url, stop.status, stop.errors)
        for name, t in tours.items()
        for stop in t.stops
        if stop.status != 200 or stop.errors
    ]
    assert problems == []
    assert [s.url for s in tours["yanshou-375px"].stops if s.sideways] == []
    # On a desktop every table shows whole (a phone may scroll a wide one inside its box).
    assert [
        (t.name, s.url) for t in tours.values() if t.width >= 1000 for s in t.stops if s.clipped
    ] == []
    # Every chart counts what the cards count; every label is Chinese.
    assert [(t.name, s.url, s.charts) for t in tours.values() for s in t.stops if s.charts] == []
    assert [(t.name, s.url, s.latin) for t in tours.values() for s in t.stops if s.latin] == []
    seen = {name: {s.key for s in t.stops} for name, t in tours.items()}
    assert seen["shi"] >= {"dashboard", "county", "dashboard-township", "household-list",
                           "household-detail", "supply", "supply-list-upgrades", "key-project",
                           "targets", "evaluation"}  # fmt: skip
    assert seen["xinfu"] >= {"county", "household-list", "household-detail", "household-create",
                             "household-edit", "ledger-import", "supply"}  # fmt: skip
    assert "dashboard" not in seen["xinfu"]  # one county: its page is the dashboard
    assert seen["yanshou"] >= {"dashboard", "county", "worklist", "visit", "household-detail"}
    assert seen["admin"] >= {"admin:index", "admin:heating_user_changelist",
                             "admin:heating_user_change", "household-detail"}  # fmt: skip
    blank = [
        (t.name, s.url, s.shot.stat().st_size)
        for t in tours.values()
        for s in t.stops
        if s.shot.stat().st_size <= tour.BLANK_BYTES
    ]
    assert blank == []
    index = (out / "index.html").read_text(encoding="utf-8")
    assert all(str(s.shot.relative_to(out)) in index for t in tours.values() for s in t.stops)


def test_cancelling_a_contract_asks_first_under_the_policy(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    """The confirmation is static/js/portal.js's (no inline handler): dismissed, nothing is sent;
    accepted, the contract is cancelled. The page raises no policy violation meanwhile."""
    from energy_supply.models import GasContract

    contract = GasContract.objects.filter(county__short_name="忻府区").first()
    assert contract is not None
    user_create(username="xf", password="x-Long-pass-1", role=Role.COUNTY, county=contract.county)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "xf")
    page.fill("#id_password", "x-Long-pass-1")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/supply/contracts/{contract.pk}/")
    form = page.locator("form[data-confirm]")
    form.locator("input[type=date]").fill("2023-09-01")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    form.locator("button[type=submit]").click()
    page.wait_for_timeout(300)
    contract.refresh_from_db()
    assert asked and "确定解除该合同" in asked[0]
    assert contract.cancelled_on is None

    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    contract.refresh_from_db()
    assert contract.cancelled_on == dt.date(2023, 9, 1)
    assert errors == []


def test_a_countys_report_form_and_the_citys_round_view(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    """A county official drafts and submits their report (the confirmation is portal.js's); the
    bureau sees the round: every county's state, the figures, the county's texts."""
    import datetime as dt

    from django.utils import timezone

    from heating.models import PlanYear
    from oversight.dispatch.services import round_open

    county = County.objects.get(short_name="忻府区")
    user_create(username="xf", password="x-Long-pass-1", role=Role.COUNTY, county=county)
    shi = user_create(username="shi", password="x-Long-pass-1", role=Role.MUNICIPAL)
    dispatch_round = round_open(
        plan_year=PlanYear.objects.get(year=2023), user=shi,
        due_at=timezone.now() + dt.timedelta(days=2),
    )  # fmt: skip
    report = dispatch_round.reports.get(county=county)

    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def sign_in(username: str) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "x-Long-pass-1")
        page.click("button[type=submit]")

    sign_in("xf")
    assert page.inner_text("[data-testid=inbox-link] .badge") == "1"  # the round opened
    page.goto(f"{live_server.url}/dispatch/reports/{report.pk}/")
    page.fill("#id_problems", "个别村入户线路老化")
    page.fill("#id_next_steps", "10月10日前全部完工")
    # 报送 straight after typing, without 保存草稿: what was typed is saved and submitted.
    page.once("dialog", lambda d: d.dismiss())
    page.click("[data-testid=submit-report]")  # dismissed: nothing is sent
    report.refresh_from_db()
    assert report.status == "draft" and page.input_value("#id_problems") == "个别村入户线路老化"
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("[data-testid=submit-report]")
    assert "已报送" in page.inner_text("[data-testid=report-status]")
    report.refresh_from_db()
    assert (report.problems, report.next_steps) == ("个别村入户线路老化", "10月10日前全部完工")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dispatch-report.png"), full_page=True)
    page.click("form[action$='/accounts/logout/'] button, .who form button")

    sign_in("shi")
    page.goto(f"{live_server.url}/dispatch/{dispatch_round.pk}/")
    row = page.locator("[data-testid=round-states] tr[data-county=忻府区]")
    assert "已报送" in row.inner_text()
    assert page.locator("[data-testid=round-states] tbody tr").count() == 16
    assert "个别村入户线路老化" in page.inner_text("main, body")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366 + 20
    page.screenshot(path=str(ARTIFACTS / "dispatch-round.png"), full_page=True)
    assert errors == []


def inspector_on_a_phone(browser: Any, live_server: Any) -> tuple[Any, Any, list[str]]:
    """忻府区's inspector yanshou logged in on a phone (375 px, located in 忻府区, service workers
    on), once the worklist is kept on it: the context, the page and the page's script errors."""
    user_create(
        username="yanshou", password="x-Long-pass-1", role=Role.INSPECTOR,
        counties=[County.objects.get(short_name="忻府区")],
    )  # fmt: skip
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True,
        geolocation={"latitude": 38.404242, "longitude": 112.746046},
        permissions=["geolocation"], service_workers="allow",
    )  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, live_server, "yanshou")
    page.wait_for_selector("[data-testid=offline-ready][data-ready]", timeout=15000)
    return context, page, errors


def test_an_inspector_records_three_visits_offline_and_syncs_them_once(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    """Issue 25: the worklist opened online is kept on the phone (a service worker); offline, the
    page reloads from that copy and three visits with photos wait in the outbox (IndexedDB);
    back online, 立即同步 sends them: three visits on the server, and sending the outbox again
    makes none; a changed copy of one is refused, and the outbox says why."""
    from acceptance.models import Inspection, InspectionPhoto
    from tests.ledger_files import IDS, row, xlsx
    from tests.test_integrity import jpeg, scene

    TenderItem.objects.create(
        category="热泵", path="electric", model="KRS-8P", vendor="甲", rated_power_kw=8,
        unit_price=1,
    )  # fmt: skip
    names = ["张三", "李四", "王五"]
    rows = [
        row(户编号=f"XF-000{n + 1}", 身份证号=IDS[n], 户主姓名=name, 实施进度="已完工",
            完工日期=dt.date(2023, 10, 10))
        for n, name in enumerate(names)
    ]  # fmt: skip
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    photos = []
    for n in range(3):
        path = tmp_path / f"stove-{n}.jpg"
        path.write_bytes(jpeg(scene(100 + n)))
        photos.append(str(path))

    ARTIFACTS.mkdir(exist_ok=True)
    context, page, errors = inspector_on_a_phone(browser, live_server)
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # The village taken along: its households' dossiers too.
    page.click("[data-take-village]")
    page.wait_for_selector("[data-testid=take-status]:has-text('已保存')", timeout=15000)
    assert "3 户" in page.inner_text("[data-testid=taken]")
    went_offline = dt.datetime.now(dt.UTC)

    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#offline-banner")
    # The copy on the phone, not the server: the page was drawn before going offline.
    rendered = page.get_attribute("script[data-user]", "data-rendered")
    assert dt.datetime.fromisoformat(rendered) < went_offline
    first = Household.objects.get(code="XF-0001")
    page.goto(f"{live_server.url}/households/{first.pk}/")
    assert "一户一档：张三" in page.inner_text("h1")
    page.go_back()
    page.wait_for_selector("#offline-banner")
    for n, name in enumerate(names):
        page.click(f"ul.worklist >> text={name}")
        page.wait_for_selector("form.visit-form")
        for item in ("model_matches", "installed", "temperature", "wiring"):
            page.check(f"#id_check_{item}")
        page.check("input[name=result][value=passed]")
        page.set_input_files("#id_photos", photos[n])
        page.fill("#id_notes", f"离线录入{n + 1}")
        page.click("button:has-text('保存验收记录')")
        page.wait_for_selector("[data-testid=outbox-flash]")
        assert f"已保存在本机，待同步：{name}" in page.inner_text("[data-testid=outbox-flash]")
    pending = page.locator("[data-testid=outbox-records] li[data-state=pending]")
    assert pending.count() == 3
    assert "（3 条待同步）" in page.inner_text("[data-testid=outbox]")
    page.screenshot(path=str(ARTIFACTS / "phone-outbox-offline.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert Inspection.objects.count() == 0

    context.set_offline(False)
    page.click("[data-testid=sync]")
    sent = page.locator("[data-testid=outbox-records] li[data-state=sent]")
    sent.nth(2).wait_for(timeout=15000)
    assert Inspection.objects.count() == 3 and InspectionPhoto.objects.count() == 3
    assert Inspection.objects.filter(client_id__isnull=False, latitude__isnull=False).count() == 3
    assert set(Inspection.objects.values_list("notes", flat=True)) == {
        "离线录入1", "离线录入2", "离线录入3",
    }  # fmt: skip
    assert "上次同步：尚未同步" not in page.inner_text("[data-testid=last-sync]")

    # The outbox sent again (as a phone that never heard the answers would): nothing new.
    page.evaluate(
        """() => heatingOutbox.all().then((records) => Promise.all(records.map((r) => {
             r.state = "pending"; return heatingOutbox.put(r); })))"""
    )
    page.click("[data-testid=sync]")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=outbox-records] li[data-state=sent]')"
        ".length === 3 && document.body.innerText.includes('此前已同步')"
    )
    assert Inspection.objects.count() == 3 and InspectionPhoto.objects.count() == 3

    # A changed copy of one: refused, and the outbox shows why.
    page.evaluate(
        """() => heatingOutbox.all().then((records) => {
             const r = records[0];
             r.fields = r.fields.map(([k, v]) => [k, k === "notes" ? "改过的说明" : v]);
             r.state = "pending";
             return heatingOutbox.put(r);
           })"""
    )
    page.click("[data-testid=sync]")
    refused = page.locator("[data-testid=outbox-records] li[data-state=refused]")
    refused.wait_for(timeout=15000)
    assert "本次内容与已同步的不同，未保存" in refused.inner_text()
    assert "被拒绝" in refused.inner_text()
    assert Inspection.objects.count() == 3
    page.screenshot(path=str(ARTIFACTS / "phone-outbox-synced.png"), full_page=True)

    # Logging out with a record not sent asks first; dismissed, nothing happens.
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("[data-testid=menu-button]")
    page.click(".who form[data-logout] button")
    page.wait_for_timeout(500)
    assert asked and "1 条验收记录未同步" in asked[0] and "清除浏览器数据" in asked[0]
    assert page.is_visible("[data-testid=outbox]")
    assert errors == []
    context.close()


def test_a_refused_outbox_record_is_put_right_on_its_form(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    """A visit recorded offline whose household changed meanwhile is refused when synced; 修改后
    重新提交 opens its form filled as recorded (photo included) on the household as it is now;
    saved, the visit is recorded once and the refused record leaves the phone."""
    from acceptance.models import Inspection, InspectionPhoto
    from retrofits.services import household_save
    from tests.ledger_files import row, xlsx
    from tests.test_integrity import jpeg, scene

    TenderItem.objects.create(
        category="热泵", path="electric", model="KRS-8P", vendor="甲", rated_power_kw=8,
        unit_price=1,
    )  # fmt: skip
    done = {"实施进度": "已完工", "完工日期": dt.date(2023, 10, 10)}
    call_command("import_ledger", str(xlsx(tmp_path, [row(**done)])), stdout=io.StringIO())
    photo = tmp_path / "stove.jpg"
    photo.write_bytes(jpeg(scene(7)))

    context, page, errors = inspector_on_a_phone(browser, live_server)
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#offline-banner")
    page.click("ul.worklist >> text=张三")
    page.wait_for_selector("form.visit-form")
    for item in ("model_matches", "installed", "temperature", "wiring"):
        page.check(f"#id_check_{item}")
    page.check("input[name=result][value=passed]")
    page.set_input_files("#id_photos", str(photo))
    page.fill("#id_notes", "离线录入")
    page.click("button:has-text('保存验收记录')")
    page.wait_for_selector("[data-testid=outbox-flash]")

    # Meanwhile the county corrects the household: the recorded visit saw an older version.
    household = Household.objects.get(code="XF-0001")
    household.notes = "县里更正了电话"
    household_save(household=household, user=None, reason="更正")
    context.set_offline(False)
    page.click("[data-testid=sync]")
    refused = page.locator("[data-testid=outbox-records] li[data-state=refused]")
    refused.wait_for(timeout=15000)
    assert Inspection.objects.count() == 0

    page.click("[data-testid=outbox-edit]")
    page.wait_for_selector("[data-testid=outbox-editing]")
    assert page.input_value("#id_notes") == "离线录入"
    assert page.is_checked("input[name=result][value=passed]")
    assert page.is_checked("#id_check_wiring")
    assert page.evaluate("document.querySelector('#id_photos').files.length") == 1
    page.fill("#id_notes", "改正后提交")
    page.click("button:has-text('保存验收记录')")
    page.wait_for_url(re.compile(r"/acceptance/(\?.*)?$"))
    page.wait_for_selector("[data-testid=outbox-records] li:has-text('本机没有待同步的记录')")
    visit = Inspection.objects.get()
    assert (visit.notes, visit.result, InspectionPhoto.objects.count()) == (
        "改正后提交",
        "passed",
        1,
    )
    assert visit.latitude is not None  # where it was recorded, kept
    assert errors == []
    context.close()
