"""The screenshot tour: every main page as each demo user sees it, full-page, in
test-artifacts/tour/<user>/, with an index.html beside them, so that the next person sees the
product without logging in.

A tour logs in and walks the links from the landing page: the navigation, then onward from each page,
one page of each kind (one household's dossier, one county's page, one supply list of each sort…),
so that it follows whatever each role is shown and nothing else. Downloads and logging out are
left out, and of the admin all but its users and households.

`make screenshots` runs it against the whole demo city (`python -m tests.tour`: it serves the
portal itself with DEBUG off); tests/test_browser.py runs it against the 1% city and checks every
page answered without an error.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError

from tests.labels import latin_words

# The demo users' usernames, shown where an account has no name (the admin's user list).
DEMO_NAMES = frozenset({"shi", "xinfu", "yuanping", "yanshou", "admin", "shenhe"})

# Who tours, at which width: an inspector works on a phone in a village, so it tours twice.
TOURS: tuple[tuple[str, int], ...] = (
    ("shi", 1366),
    ("xinfu", 1366),
    ("yuanping", 1366),
    ("yanshou", 1366),
    ("yanshou", 375),
    ("admin", 1366),
)
MAX_DEPTH = 3  # the landing page, its navigation, their lists' items, the items' own pages
MAX_PAGES = 60
# Views that are not pages to look at: files, forms that only post, the way out.
LEFT_OUT = {
    "logout",
    "favicon",
    "inspection-photo",
    "township-options",
    "village-options",
    "api-progress",
    "api-energy",
}
# Of the admin, the pages an administrator works in: users, and households corrected by hand.
ADMIN_PAGES = {
    "admin:index",
    "admin:heating_user_changelist",
    "admin:heating_user_change",
    "admin:retrofits_household_changelist",
    "admin:retrofits_household_change",
}
CHARTS = ("map", "funnel", "by-path", "trend")
CLIPPED = """Array.from(document.querySelectorAll('.table-wrap'))
  .filter((w) => w.scrollWidth > w.clientWidth + 1).length"""
# Each chart's figures against the page's cards: the charts must count the cards' households.
CHARTS_AGAINST_CARDS = """(() => {
  const source = document.getElementById('dashboard-data');
  const card = (id) => {
    const el = document.querySelector(`[data-testid=${id}]`);
    return el ? Number(el.textContent.replace(/,/g, '')) : null;
  };
  if (!source || card('completed') === null) return [];
  const data = JSON.parse(source.textContent);
  const wrong = [];
  const completed = card('completed'), accepted = card('accepted'), target = card('target');
  const last = data.trend.length ? data.trend[data.trend.length - 1] : [null, 0, 0];
  if (last[1] !== completed) wrong.push(`完工趋势 ${last[1]} ≠ 已完工 ${completed}`);
  if (last[2] !== accepted) wrong.push(`验收趋势 ${last[2]} ≠ 已验收 ${accepted}`);
  const byPath = data.by_path.reduce((n, s) => n + s.data.reduce((a, b) => a + b, 0), 0);
  if (byPath !== completed) wrong.push(`分路径 ${byPath} ≠ 已完工 ${completed}`);
  const targets = data.targets.reduce((a, b) => a + b, 0);
  if (targets !== target) wrong.push(`各县任务 ${targets} ≠ 任务 ${target}`);
  const accepted_layer = data.funnel[data.funnel.length - 1].value;
  if (accepted_layer !== accepted) wrong.push(`漏斗已验收 ${accepted_layer} ≠ 已验收 ${accepted}`);
  return wrong;
})()"""


@dataclass
class Stop:
    """One page of a tour, as it went."""

    key: str
    url: str
    status: int
    shot: Path
    errors: list[str] = field(default_factory=list)
    sideways: bool = False  # wider than the screen: it scrolls sideways
    clipped: int = 0  # tables wider than their box, which scroll sideways inside the page
    charts: list[str] = field(default_factory=list)  # a chart's figures that differ from the cards
    latin: list[str] = field(default_factory=list)  # Latin words outside codes and numbers


@dataclass
class Tour:
    username: str
    width: int
    stops: list[Stop] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.username if self.width >= 1000 else f"{self.username}-{self.width}px"


def page_key(url: str) -> str | None:
    """The kind of page a link opens (its view, and the sort of record for the supply lists), or
    None for what the tour leaves out."""
    from django.urls import Resolver404, resolve

    path = urlsplit(url).path
    if path.endswith((".xlsx", ".docx", ".csv", ".json")):
        return None
    try:
        match = resolve(path)
    except Resolver404:
        return None
    name = match.view_name
    if name in LEFT_OUT or (name.startswith("password_change") and name != "password_change"):
        return None
    if name.startswith("admin:") and name not in ADMIN_PAGES:
        return None
    kind = match.kwargs.get("kind")
    return f"{name}-{kind}" if kind else name


def take_tour(
    browser: Any, base_url: str, out: Path, *, username: str, password: str, width: int
) -> Tour:
    tour = Tour(username, width)
    folder = out / tour.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    page = browser.new_page(viewport={"width": width, "height": 900 if width >= 1000 else 812})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    # Logged in once the login page is left (not "network idle": an inspector's outbox and a
    # job's progress bar keep asking, and on a busy machine idle may never come).
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.wait_for_load_state("load")

    seen: set[str] = set()
    queue: deque[tuple[str, int]] = deque([(page.url, 0)])
    while queue and len(tour.stops) < MAX_PAGES:
        url, depth = queue.popleft()
        errors.clear()
        try:
            response = page.goto(url)
        except PlaywrightError as error:
            # A link to a file that the page did not mark `download`: not a page to look at.
            if "Download is starting" in str(error):
                continue
            raise
        key = page_key(page.url) or "page"
        if any(stop.key == key for stop in tour.stops):
            continue  # a link that led to a page already seen (首页 → the county's page)
        seen.add(key)
        _let_charts_settle(page)
        _settle(page)
        shot = folder / f"{len(tour.stops) + 1:02d}-{key.replace(':', '-')}.png"
        _screenshot(page, shot)
        tour.stops.append(
            Stop(
                key=key,
                url=page.url.removeprefix(base_url),
                status=response.status if response else 0,
                shot=shot,
                errors=list(errors),
                sideways=page.evaluate("document.documentElement.scrollWidth") > width,
                clipped=page.evaluate(CLIPPED),
                charts=page.evaluate(CHARTS_AGAINST_CARDS),
                latin=sorted(latin_words(page.content(), also=DEMO_NAMES)),
            )
        )
        if depth >= MAX_DEPTH:
            continue
        links = page.eval_on_selector_all(
            "header a[href]:not([download]), main a[href]:not([download])",
            "els => els.map((a) => a.href)",
        )
        for link in links:
            if not link.startswith(base_url):
                continue
            found = page_key(link)
            if found and found not in seen:
                seen.add(found)
                queue.append((link, depth + 1))
    page.close()
    return tour


# A screenshot of a page with anything on it is larger than this; a blank one is smaller.
BLANK_BYTES = 10_000


def _settle(page: Any) -> None:
    """Let a page's own requests finish before the next page is asked for (an inspector's
    worklist keeps its visit forms for offline work): the test server's in-memory SQLite answers
    "table is locked" to two writers at once, where a real database would wait."""
    if (
        page.locator("[data-worklist] [data-visit]").count()
        and page.locator("[data-offline-ready]").count()
    ):
        # The worklist keeps its visit forms one by one: done when it says so.
        page.wait_for_selector(
            "[data-offline-ready][data-ready='1']", state="attached", timeout=90000
        )
    with contextlib.suppress(Exception):  # a page that keeps asking is still toured
        page.wait_for_load_state("networkidle", timeout=15000)


def _screenshot(page: Any, shot: Path) -> None:
    """A full-page screenshot once the page has painted. Headless chromium may capture a page
    before its first paint (a white image, seen on a loaded CI machine): wait for two frames, and
    take it once more if it came out blank."""
    for _ in range(3):
        page.wait_for_load_state("load")
        page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        page.screenshot(path=str(shot), full_page=True)
        if shot.stat().st_size > BLANK_BYTES:
            return
        page.wait_for_timeout(500)


def _let_charts_settle(page: Any) -> None:
    """ECharts draws after the page loads and animates for a moment: wait for every chart's canvas,
    then for the animation."""
    charts = [c for c in CHARTS if page.locator(f"#{c}").count()]
    for chart in charts:
        page.wait_for_selector(f"#{chart} canvas", timeout=15000)
    if charts:
        page.wait_for_timeout(1200)


def write_index(out: Path, tours: list[Tour]) -> Path:
    """One page that shows every screenshot, role by role."""
    parts = [
        "<!doctype html><html lang='zh-hans'><meta charset='utf-8'><title>截图巡览</title>",
        "<style>body{font-family:sans-serif;margin:1em}figure{display:inline-block;margin:.5em;"
        "vertical-align:top;width:220px}img{width:220px;border:1px solid #ccc}"
        "figcaption{font-size:12px;word-break:break-all}</style>",
        "<h1>清洁取暖改造台账平台：截图巡览</h1>",
    ]
    for tour in tours:
        parts.append(f"<h2>{html.escape(tour.name)}（{tour.width} px）</h2>")
        for stop in tour.stops:
            link = html.escape(str(stop.shot.relative_to(out)))
            note = f" · {stop.status}" if stop.status != 200 else ""
            parts.append(
                f"<figure><a href='{link}'><img src='{link}' loading='lazy'></a>"
                f"<figcaption>{html.escape(stop.url)}{note}</figcaption></figure>"
            )
    index = out / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index


def run_tours(browser: Any, base_url: str, out: Path, *, password: str) -> list[Tour]:
    tours = [
        take_tour(browser, base_url, out, username=user, password=password, width=width)
        for user, width in TOURS
    ]
    write_index(out, tours)
    return tours


# ---------------------------------------------------------------- `make screenshots`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the portal did not start")


def main() -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heating.settings")
    django.setup()
    from playwright.sync_api import sync_playwright

    from heating.management.commands.create_demo_users import DEMO_PASSWORD

    out = Path("test-artifacts") / "tour"
    port = _free_port()
    server = _serve(port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu"],
            )
            tours = run_tours(browser, f"http://127.0.0.1:{port}", out, password=DEMO_PASSWORD)
            browser.close()
    finally:
        server.terminate()
        server.wait()
    problems = 0
    for tour in tours:
        for stop in tour.stops:
            flags = [str(stop.status)] if stop.status != 200 else []
            flags += ["横向滚动"] if stop.sideways else []
            # A phone may scroll a wide table inside its box; a desktop shows it whole.
            if stop.clipped and tour.width >= 1000:
                flags.append(f"{stop.clipped} 个表格需横向滚动")
            flags += stop.charts
            flags += [f"非中文标签：{'、'.join(stop.latin)}"] if stop.latin else []
            flags += stop.errors
            problems += bool(flags)
            print(f"{tour.name:14} {stop.url:48} {' '.join(flags) or 'ok'}")
    print(f"{sum(len(t.stops) for t in tours)} 张截图，{problems} 页有问题：{out / 'index.html'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
