"""Benchmark: hostile uploads to every upload endpoint, against the production shape (gunicorn, a
real Celery worker).

    .venv/bin/python bench/hostile_uploads.py [--database-url postgres://postgres@127.0.0.1:5432/heating_hostile]
        [--redis-url redis://127.0.0.1:6379/13]

Every endpoint that takes a spreadsheet is sent the files that would hurt the service:
  - the ledger import (/ledger/imports/, a Celery job), as a county official;
  - a supply import (/supply/networks/import/: refused on the form when the file's size says so,
    else a Celery job), as the same official;
  - the admin's task-breakdown table import (/admin/heating/target/import/) and tender list import
    (/admin/retrofits/tenderitem/import/, xlsx and CSV), as the bureau: answered in the request.
The xlsx files: a 2 KB sheet declaring cell XFD1048576 (the parser would ask for 512 GiB); the same
cell with no declared dimension (the parser aborts: it runs in a child process under a memory
ceiling); a zip bomb of a few MB that unzips to over 1 GB of sheet XML; a sheet of 1,048,576 rows
(Excel's most). The CSV files, each 49 MB (under the 50 MB upload limit): a million lines, one line
of commas, one cell.

For each it prints the time from the POST to the refusal (the job's end, where a job reads the file)
and the peak memory of the web server's and the worker's process trees (each with its reader
children) above what they held before it, against the reader's ceiling (SHEET_READ_MEMORY_MB), while five users
browse and the pages' p95 is taken. Targets: each refused in under a second, every tree under the
ceiling, the processes alive, the pages answering.
"""

from __future__ import annotations

import argparse
import html
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deadline_day
from common import load_plan, recreate_database, setup_django
from deadline_day import (
    PASSWORD,
    Figures,
    Session,
    browse,
    free_port,
    pct,
    server_env,
    start_services,
    stop,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/heating_hostile"
SHEET_START = (
    b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main">'
)
HEADER = "户编号"
CSV_BYTES = 49 * 2**20  # under MAX_UPLOAD_MB (50), as the 49 MB CSV
TARGET_SECONDS = 1.0


# -- the files ---------------------------------------------------------------------------------


def book(path: Path, write_sheet: Any) -> Path:
    """A minimal xlsx whose one sheet `write_sheet(part)` writes."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
        'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType='
        '"application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="applica'
        'tion/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
        '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/'
        'workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.'
        'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
        '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            write_sheet(part)
    return path


def header_row() -> bytes:
    return f'<row r="1"><c r="A1" t="inlineStr"><is><t>{HEADER}</t></is></c></row>'.encode()


def far_cell(declared: bool) -> Any:
    def write(part: Any) -> None:
        dimension = b'<dimension ref="A1:XFD1048576"/>' if declared else b""
        far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        part.write(SHEET_START + dimension + b"<sheetData>" + header_row() + far)
        part.write(b"</sheetData></worksheet>")

    return write


def zip_bomb(part: Any) -> None:
    part.write(SHEET_START + b"<sheetData>" + header_row())
    filler = (b'<row><c t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>") * 1000
    for _ in range(1100):  # about 1.1 GB once unzipped
        part.write(filler)
    part.write(b"</sheetData></worksheet>")


def excel_max_rows(part: Any) -> None:
    part.write(SHEET_START + b'<dimension ref="A1:A1048576"/><sheetData>' + header_row())
    chunk = []
    for r in range(2, 1_048_577):
        chunk.append(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>x</t></is></c></row>')
        if len(chunk) == 10_000:
            part.write("".join(chunk).encode())
            chunk = []
    part.write("".join(chunk).encode() + b"</sheetData></worksheet>")


def csv_lines(path: Path) -> Path:
    line = b"XF-0000001,\xe5\xbc\xa0\xe4\xb8\x89,140902199001011234,\xe5\xbf\xbb\xe5\xba\x9c\n"
    head = f"{HEADER},户主姓名,身份证号,地址\n".encode()
    path.write_bytes(head + line * ((CSV_BYTES - len(head)) // len(line)))
    return path


def csv_commas(path: Path) -> Path:
    path.write_bytes(f"{HEADER}\n".encode() + b"," * CSV_BYTES + b"\n")
    return path


def csv_cell(path: Path) -> Path:
    path.write_bytes(f'{HEADER}\n"'.encode() + b"x" * CSV_BYTES + b'"\n')
    return path


# -- measuring ---------------------------------------------------------------------------------


def tree_rss_mb(root: int) -> float:
    """The resident memory of a process and all its descendants, in MB (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry.name), int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1024


class Peaks:
    """The highest RSS of each watched process tree since the last reset, sampled every 50 ms."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.peak = dict.fromkeys(roots, 0.0)
        self.lock = threading.Lock()

    def reset(self) -> dict[str, float]:
        """Start again from now; returns each tree's memory now."""
        now = {name: tree_rss_mb(pid) for name, pid in self.roots.items()}
        with self.lock:
            self.peak = dict(now)
        return now

    def watch(self, done: threading.Event) -> None:
        while not done.is_set():
            now = {name: tree_rss_mb(pid) for name, pid in self.roots.items()}
            with self.lock:
                self.peak = {name: max(self.peak[name], now[name]) for name in now}
            done.wait(0.05)


# -- the endpoints -----------------------------------------------------------------------------


def post_file(
    session: Session, path: str, fields: dict[str, str], file_field: str, file: Path
) -> tuple[int, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {"csrfmiddlewaretoken": session.csrf(), **fields}.items()
    ]
    parts += [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode(),
        file.read_bytes(),
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return session.request(path, b"".join(parts), headers)


def form_error(page: str) -> str:
    """The form's first error: the admin's list of them, or the portal's error line."""
    found = re.search(r'class="errorlist[^"]*"[^>]*>\s*<li>(.*?)</li>', page, re.S) or re.search(
        r'<div class="error"[^>]*>(.*?)</div>', page, re.S
    )
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else ""


def job_end(model: Any, after: int) -> tuple[str, str]:
    """The status and message of the first job of `model` after pk `after`, once it ends."""
    while True:
        job = model.objects.filter(pk__gt=after).order_by("pk").first()
        if job is not None and job.status in ("succeeded", "failed"):
            return job.status, job.message
        time.sleep(0.05)


@dataclass
class Endpoint:
    name: str
    send: Callable[[Path], tuple[str, str]]  # the file -> (how it ended, what it said)
    files: list[str]  # which of the files it is sent


def endpoints(county_user: Session, bureau: Session, plan_year: int) -> list[Endpoint]:
    from energy_supply.models import SupplyImport
    from retrofits.models import LedgerImport

    def last(model: Any) -> int:
        row = model.objects.order_by("-pk").values_list("pk", flat=True).first()
        return int(row or 0)

    def ledger(file: Path) -> tuple[str, str]:
        before = last(LedgerImport)
        county_user.upload("/ledger/imports/", file)
        status, message = job_end(LedgerImport, before)
        return f"job {status}", message

    def supply(file: Path) -> tuple[str, str]:
        before = last(SupplyImport)
        _, page = post_file(county_user, "/supply/networks/import/", {}, "file", file)
        if last(SupplyImport) == before:
            return "refused on the form", form_error(page)
        status, message = job_end(SupplyImport, before)
        return f"job {status}", message

    def admin(url: str, fields: dict[str, str]) -> Callable[[Path], tuple[str, str]]:
        def send(file: Path) -> tuple[str, str]:
            status, page = post_file(bureau, url, fields, "import_file", file)
            said = form_error(page)
            return (f"refused on the form ({status})" if said else f"answered {status}"), said

        return send

    xlsx = ["declared", "undeclared", "bomb", "rows"]
    csv = ["csv lines", "csv commas", "csv cell"]
    targets = admin(
        "/admin/heating/target/import/",
        {"plan_year": str(plan_year), "resource": "0", "format": "0"},
    )
    tender = "/admin/retrofits/tenderitem/import/"
    return [
        Endpoint("ledger import", ledger, xlsx + csv),
        Endpoint("supply import", supply, xlsx + csv),
        Endpoint("admin: targets", targets, xlsx),
        Endpoint("admin: tender xlsx", admin(tender, {"resource": "0", "format": "0"}), xlsx),
        Endpoint("admin: tender CSV", admin(tender, {"resource": "0", "format": "1"}), csv),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=deadline_day.REDIS_URL, help="flushed first")
    args = parser.parse_args()
    deadline_day.REDIS_URL = args.redis_url  # server_env() and start_services() read it
    folder = Path(tempfile.mkdtemp(prefix="hostile-"))

    print("preparing the database and the files …", flush=True)
    recreate_database(args.database_url)
    setup_django(args.database_url)
    load_plan()
    from django.conf import settings

    from heating.models import County, PlanYear, Role
    from heating.services import user_create

    county = County.objects.get(short_name="忻府区")
    user_create(username="upload", password=PASSWORD, role=Role.COUNTY, county=county)
    user_create(username="bureau", password=PASSWORD, role=Role.MUNICIPAL, organisation="市能源局")
    for i in range(5):
        user_create(username=f"browse-{i}", password=PASSWORD, role=Role.COUNTY, county=county)
    files = {
        "declared": ("sheet declaring XFD1048576", book(folder / "dim.xlsx", far_cell(True))),
        "undeclared": ("XFD1048576, no dimension", book(folder / "nodim.xlsx", far_cell(False))),
        "bomb": ("zip bomb, 1.1 GB of XML", book(folder / "bomb.xlsx", zip_bomb)),
        "rows": ("1,048,576 rows", book(folder / "rows.xlsx", excel_max_rows)),
        "csv lines": ("CSV, 49 MB of short lines", csv_lines(folder / "lines.csv")),
        "csv commas": ("CSV, one line of commas", csv_commas(folder / "commas.csv")),
        "csv cell": ("CSV, one 49 MB cell", csv_cell(folder / "cell.csv")),
    }
    for label, path in files.values():
        print(f"  {label:<28} {path.stat().st_size / 2**20:8.2f} MB", flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = start_services(
        server_env(args.database_url, folder / "media"), port, 2, 1, 10, folder / "access.log"
    )
    web, worker = processes
    peaks = Peaks({"web": web.pid, "worker": worker.pid})
    figures = Figures()
    done = threading.Event()
    browsers = [
        threading.Thread(
            target=browse, args=(base, f"browse-{i}", "county", figures, done, i, [county.pk])
        )
        for i in range(5)
    ]
    watcher = threading.Thread(target=peaks.watch, args=(done,))
    ceiling = settings.SHEET_READ_MEMORY_MB
    results: list[tuple[str, str, float, float, float, str, str]] = []
    try:
        watcher.start()
        for b in browsers:
            b.start()
        county_user, bureau = Session(base, "upload"), Session(base, "bureau")
        plan_year = PlanYear.objects.get(year=2023).pk
        time.sleep(3)
        rest = dict(peaks.peak)
        print(f"\nat rest: web {rest['web']:.0f} MB, worker {rest['worker']:.0f} MB")
        print(
            f"the reader's ceiling: {ceiling:,} MB; target: refused in under {TARGET_SECONDS} s\n"
        )
        for endpoint in endpoints(county_user, bureau, plan_year):
            for key in endpoint.files:
                label, path = files[key]
                before = peaks.reset()
                started = time.perf_counter()
                outcome, said = endpoint.send(path)
                seconds = time.perf_counter() - started
                time.sleep(0.1)  # a last sample of the trees
                # Above what each tree held just before this upload (Python keeps some of what
                # an earlier one freed, which is counted at the end).
                web_mb = peaks.peak["web"] - before["web"]
                worker_mb = peaks.peak["worker"] - before["worker"]
                results.append((endpoint.name, label, seconds, web_mb, worker_mb, outcome, said))
                print(
                    f"{endpoint.name:<19} {label:<28} {seconds:5.2f} s  web +{web_mb:4.0f} MB  "
                    f"worker +{worker_mb:4.0f} MB  {outcome}",
                    flush=True,
                )
                print(f"    「{said[:150]}」", flush=True)
        alive = {"web": web.poll() is None, "worker": worker.poll() is None}
        after = peaks.reset()
    finally:
        done.set()
        for b in browsers:
            b.join()
        watcher.join()
        stop(processes)
    every = [t for times in figures.pages.values() for t in times]
    slow = [r for r in results if r[2] >= TARGET_SECONDS]
    heavy = [r for r in results if max(r[3], r[4]) >= ceiling]
    unsaid = [r for r in results if not r[6] or r[5].startswith("job succeeded")]
    print(
        f"\n{len(results)} uploads: slowest {max(r[2] for r in results):.2f} s, "
        f"{len(slow)} at {TARGET_SECONDS} s or more; largest growth "
        f"{max(max(r[3], r[4]) for r in results):.0f} MB against the {ceiling:,} MB ceiling, "
        f"{len(heavy)} over it; {len(unsaid)} not refused with a message"
    )
    print(
        f"pages meanwhile: {len(every)} requests, p50 {statistics.median(every):.0f} ms, "
        f"p95 {pct(every, 0.95):.0f} ms, {len(figures.failures)} not 200"
    )
    print(
        f"kept after all {len(results)}: web {after['web'] - rest['web']:+.0f} MB, "
        f"worker {after['worker'] - rest['worker']:+.0f} MB over their rest"
    )
    print("processes: " + ", ".join(f"{n} {'running' if a else 'DEAD'}" for n, a in alive.items()))


if __name__ == "__main__":
    main()
