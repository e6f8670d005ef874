"""Benchmark: deadline day. The 16 counties upload their first ledgers at once (209,683 rows in
all) through the web page, while 30 users browse the list, dossiers and dashboards.

    .venv/bin/python bench/deadline_day.py [--database-url postgres://postgres@127.0.0.1:5432/heating_deadline]
        [--browsers 30] [--web-workers 3] [--celery-concurrency 2]

It (re)creates the database with the 2023 plan and its supply, writes each county's ledger (the
demo city's rows) as an xlsx, starts the production shape on this machine: gunicorn (DEBUG off)
and a real Celery worker through Redis, then
  - 16 county officials log in and upload their files at the same moment; each upload is timed
    from the POST to its job's end (queueing included), and must succeed;
  - 30 users (county officials, the bureau, inspectors) browse with 0.5-1.5 s between pages:
    the household list (sometimes searched), a dossier found on it, their county's page, the
    city's dashboard and /api/progress, the inspectors' worklist;
  - a sampler reads PostgreSQL's pg_locks every 50 ms and keeps the longest wait for a lock.
It prints every upload's time, the pages' p50/p95 per kind and in all, and the longest lock wait.
Targets: every upload succeeds, page p95 <= 500 ms, no lock wait over 1 s.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from common import ROOT, load_plan, recreate_database, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/heating_deadline"
REDIS_URL = "redis://127.0.0.1:6379/13"
PASSWORD = "deadline-day-2023"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the data ----------------------------------------------------------------------------------


@dataclass
class County:
    pk: int
    name: str
    rows: int
    file: Path


def prepare(url: str, folder: Path, browsers: int) -> tuple[list[County], list[tuple[str, str]]]:
    """The database, the users and one ledger file per county; (counties, [(browser, role)])."""
    recreate_database(url)
    setup_django(url)
    load_plan()
    from heating.models import County as CountyModel
    from heating.models import Role
    from heating.services import user_create
    from retrofits.demo import household_rows
    from retrofits.ledger.file import ChoiceLists, write_ledger

    by_county: dict[str, list[list[object]]] = defaultdict(list)
    for row in household_rows(scale=1.0):
        by_county[str(row[1])].append(row)
    counties = []
    for county in CountyModel.objects.order_by("order"):
        rows = by_county.get(county.name) or by_county.get(county.short_name) or []
        if not rows:
            continue
        path = folder / f"{county.short_name}.xlsx"
        path.write_bytes(write_ledger(rows, ChoiceLists(counties=[])))
        user_create(
            username=f"upload-{county.pk}", password=PASSWORD, role=Role.COUNTY, county=county
        )
        counties.append(County(county.pk, county.short_name, len(rows), path))

    everyone = list(CountyModel.objects.order_by("order"))
    people = []
    for i in range(browsers):
        kind = ("county", "county", "municipal", "inspector")[i % 4]
        name = f"browse-{i}"
        if kind == "county":
            user_create(username=name, password=PASSWORD, role=Role.COUNTY, county=everyone[i % 16])
        elif kind == "municipal":
            user_create(username=name, password=PASSWORD, role=Role.MUNICIPAL)
        else:
            pair = [everyone[i % 16], everyone[(i + 1) % 16]]
            user_create(username=name, password=PASSWORD, role=Role.INSPECTOR, counties=pair)
        people.append((name, kind))
    return counties, people


# -- the production shape ----------------------------------------------------------------------


def server_env(url: str, media: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "heating.settings",
        "LOCAL_ENV": "/nonexistent",
        "DEBUG": "0",
        "HTTPS": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "DB_CONN_MAX_AGE": "60",
        "MEDIA_ROOT": str(media),
        "SEARCHES_PER_MINUTE": "60",
        "LOG_LEVEL": "WARNING",
    }


def start_services(
    env: dict[str, str], port: int, web_workers: int, concurrency: int, nice: int,
    access_log: Path,
) -> list[subprocess.Popen[bytes]]:  # fmt: skip
    python = str(VENV_BIN / "python")
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    web = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"), "heating.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(web_workers), "--threads", "4", "--worker-class", "gthread",
            "--timeout", "120", "--log-level", "warning",
            # The server's own time for each request (microseconds), apart from the client's.
            "--access-logfile", str(access_log), "--access-logformat", "%(U)s %(s)s %(D)s",
        ],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    # Imports yield the CPU to pages, as docker-compose.yml's worker does (cpu_shares).
    worker = subprocess.Popen(
        [
            "nice", "-n", str(nice),
            str(VENV_BIN / "celery"), "-A", "heating.celery", "worker", "--loglevel", "WARNING",
            "--concurrency", str(concurrency), "--without-gossip", "--without-mingle",
        ],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        raise SystemExit("gunicorn did not start")
    return [web, worker]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """A warm shutdown (the worker finishes its task), then whatever is left of each group."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


# -- a browser ---------------------------------------------------------------------------------


class Session:
    """One signed-in user: cookies, CSRF, and the time of each request."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.get("/accounts/login/")[1]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        body = urllib.parse.urlencode(
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
        ).encode()
        status, page = self.request("/accounts/login/", body)
        assert "退出" in page, f"{username} could not sign in ({status})"

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken") or ""

    def request(
        self, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        if body is not None:
            request.add_header("Referer", self.base + path)
            request.add_header("X-CSRFToken", self.csrf())
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def get(self, path: str) -> tuple[int, str]:
        return self.request(path)

    def upload(self, path: str, file: Path) -> tuple[int, str]:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
            f"{self.csrf()}\r\n".encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{file.name}"\r\nContent-Type: application/vnd.openxmlformats-'
            "officedocument.spreadsheetml.sheet\r\n\r\n".encode(),
            file.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self.request(path, b"".join(parts), headers)


@dataclass
class Figures:
    pages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, session: Session, kind: str, path: str) -> str:
        started = time.perf_counter()
        status, page = session.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.pages[kind].append(elapsed)
            if status != 200:
                self.failures.append(f"{kind} {path} → {status}")
        return page


SEARCHES = ["张", "王", "李", "村", "1409", "XZ"]


def browse(
    base: str, name: str, kind: str, figures: Figures, done: threading.Event, seed: int,
    counties: list[int],
) -> None:  # fmt: skip
    rng = random.Random(seed)
    session = Session(base, name)
    while not done.is_set():
        if kind == "municipal":
            choice = rng.choice(["city", "api", "list", "dossier", "county"])
        elif kind == "inspector":
            choice = rng.choice(["worklist", "dossier", "list"])
        else:
            choice = rng.choice(["list", "list", "dossier", "home"])
        if choice == "city":
            figures.timed(session, "city dashboard", "/dashboard/")
        elif choice == "api":
            figures.timed(session, "api/progress", "/api/progress?year=2023")
        elif choice == "county":
            figures.timed(session, "county page", f"/counties/{rng.choice(counties)}/")
        elif choice == "home":  # a county official's home: their county's page
            figures.timed(session, "county page", "/")
        elif choice == "worklist":
            figures.timed(session, "worklist", "/acceptance/")
        elif choice == "list":
            query: dict[str, object] = {"page": rng.randint(1, 5)}
            if rng.random() < 0.25:
                query["q"] = rng.choice(SEARCHES)
            figures.timed(
                session, "household list", f"/households/?{urllib.parse.urlencode(query)}"
            )
        else:
            page = figures.timed(session, "household list", "/households/")
            ids = re.findall(r'href="/households/(\d+)/"', page)
            if ids:
                figures.timed(session, "dossier", f"/households/{rng.choice(ids)}/")
        done.wait(rng.uniform(0.5, 1.5))


# -- the lock sampler --------------------------------------------------------------------------


def sample_locks(url: str, done: threading.Event, longest: dict[str, object]) -> None:
    import psycopg

    # The waiter, the lock, and what the first process it waits for is running.
    query = """
        SELECT extract(epoch FROM clock_timestamp() - l.waitstart), l.locktype, l.mode,
               coalesce(l.relation::regclass::text, ''), left(a.query, 80),
               coalesce((SELECT left(b.query, 80) FROM pg_stat_activity b
                         WHERE b.pid = (pg_blocking_pids(l.pid))[1]), '')
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND l.waitstart IS NOT NULL AND a.datname = current_database()
        ORDER BY 1 DESC LIMIT 1
    """
    with psycopg.connect(url, autocommit=True) as conn:
        while not done.is_set():
            row = conn.execute(query).fetchone()
            if row and float(row[0]) > float(longest.get("seconds", 0.0)):  # type: ignore[arg-type]
                longest.update(
                    seconds=float(row[0]), lock=f"{row[1]} {row[2]} {row[3]}", query=row[4]
                )
            done.wait(0.05)


# -- the day -----------------------------------------------------------------------------------


def upload(
    base: str, url: str, county: County, start: threading.Barrier, results: dict[str, object]
) -> None:
    import psycopg

    session = Session(base, f"upload-{county.pk}")
    start.wait()
    started = time.perf_counter()
    status, _ = session.upload("/ledger/imports/", county.file)
    with psycopg.connect(url, autocommit=True) as conn:
        # The county's one upload of the day (the redirect to its page was followed).
        job = conn.execute(
            "SELECT max(id) FROM retrofits_ledgerimport WHERE county_id = %s", [county.pk]
        ).fetchone()[0]  # type: ignore[index]
        while True:
            row = conn.execute(
                "SELECT status, created_count, message FROM retrofits_ledgerimport WHERE id = %s",
                [job],
            ).fetchone()
            if row and row[0] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
    results[county.name] = {
        "seconds": time.perf_counter() - started,
        "status": row[0],
        "created": row[1],
        "rows": county.rows,
        "message": row[2][:200],
        "post": status,
    }


def server_times(log: Path) -> list[float]:
    """gunicorn's time for each page request so far (ms), in the order they ended."""
    times = []
    for line in log.read_text().splitlines() if log.exists() else []:
        path, _, micros = line.rsplit(" ", 2)
        if not path.startswith(("/static/", "/accounts/", "/ledger/")):
            times.append(int(micros) / 1000)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--browsers", type=int, default=30)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--celery-concurrency", type=int, default=1)
    parser.add_argument("--worker-nice", type=int, default=10, help="0: as urgent as the pages")
    parser.add_argument("--warm-up", type=float, default=15.0, help="seconds of browsing first")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="deadline-day-"))
    print("preparing the database, users and 16 ledger files …", flush=True)
    counties, people = prepare(args.database_url, folder, args.browsers)
    total_rows = sum(c.rows for c in counties)
    print(f"{len(counties)} files, {total_rows:,} rows; {len(people)} browsing users", flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = start_services(
        server_env(args.database_url, folder / "media"), port, args.web_workers,
        args.celery_concurrency, args.worker_nice, folder / "access.log",
    )  # fmt: skip
    figures = Figures()
    done = threading.Event()
    longest: dict[str, object] = {"seconds": 0.0}
    results: dict[str, object] = {}
    try:
        sampler = threading.Thread(target=sample_locks, args=(args.database_url, done, longest))
        sampler.start()
        browsers = [
            threading.Thread(
                target=browse,
                args=(base, name, kind, figures, done, i, [c.pk for c in counties]),
            )
            for i, (name, kind) in enumerate(people)
        ]
        for b in browsers:
            b.start()
        time.sleep(args.warm_up)
        before = {k: len(v) for k, v in figures.pages.items()}
        logged_before = server_times(folder / "access.log")
        start = threading.Barrier(len(counties))
        uploaders = [
            threading.Thread(target=upload, args=(base, args.database_url, c, start, results))
            for c in counties
        ]
        day_started = time.perf_counter()
        for u in uploaders:
            u.start()
        for u in uploaders:
            u.join()
        day = time.perf_counter() - day_started
        logged_during = server_times(folder / "access.log")[len(logged_before) :]
        done.set()
        for b in browsers:
            b.join()
        sampler.join()
    finally:
        done.set()
        stop(processes)

    print(f"\nuploads (POST to the job's end, queueing included), all at once, {day:.1f} s in all:")
    ok = True
    for name, r in results.items():
        assert isinstance(r, dict)
        flag = "" if r["status"] == "succeeded" and r["created"] == r["rows"] else "  ← FAILED"
        ok &= not flag
        print(f"  {name:<6} {r['rows']:>7,} rows  {r['seconds']:6.1f} s  {r['status']}{flag}")
        if flag:
            print(f"         {r['message']}")
    imported = sum(int(r["created"]) for r in results.values() if isinstance(r, dict))
    print(f"  all: {imported:,} of {total_rows:,} rows imported")

    during = {k: v[before.get(k, 0) :] for k, v in figures.pages.items()}
    every = [t for times in during.values() for t in times]
    print(f"\npages during the uploads ({len(every):,} requests by {len(people)} users), ms:")
    print(f"  {'page':<16}{'n':>6}{'p50':>8}{'p95':>8}{'max':>8}")
    for kind, times in sorted(during.items()):
        if times:
            print(
                f"  {kind:<16}{len(times):>6}{statistics.median(times):>8.0f}"
                f"{pct(times, 0.95):>8.0f}{max(times):>8.0f}"
            )
    p95 = pct(every, 0.95)
    print(
        f"  {'all':<16}{len(every):>6}{statistics.median(every):>8.0f}{p95:>8.0f}{max(every):>8.0f}"
    )
    warm = [t for k, v in figures.pages.items() for t in v[: before.get(k, 0)]]
    print(
        f"  before the uploads, {len(warm)} requests: p50 {statistics.median(warm):.0f}, "
        f"p95 {pct(warm, 0.95):.0f}"
    )
    print(
        f"  the server's own time during the uploads (gunicorn): p50 "
        f"{statistics.median(logged_during):.0f}, p95 {pct(logged_during, 0.95):.0f}"
    )
    if figures.failures:
        print(f"  {len(figures.failures)} pages did not answer 200, e.g. {figures.failures[:3]}")
    wait = float(longest["seconds"])  # type: ignore[arg-type]
    print(
        f"\nlongest lock wait: {wait:.2f} s"
        + (f" ({longest['lock']}: {longest['query']})" if wait else "")
    )

    print("\ntargets:")
    print(f"  every upload succeeds: {'yes' if ok else 'NO'}")
    print(f"  page p95 <= 500 ms: {p95:.0f} ms, {'met' if p95 <= 500 else 'MISSED'}")
    print(f"  no lock wait over 1 s: {wait:.2f} s, {'met' if wait <= 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
