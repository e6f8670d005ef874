"""Benchmark: hostile uploads against the production shape (gunicorn, a real Celery worker).

    .venv/bin/python bench/hostile_uploads.py [--database-url postgres://postgres@127.0.0.1:5432/heating_hostile]

A county official uploads, one after another, through the web page:
  - a 2 KB xlsx whose sheet declares cell XFD1048576 (the parser would ask for 512 GiB);
  - the same cell with no declared dimension (the parser aborts: it runs in a child process under
    a memory ceiling);
  - a zip bomb: a few MB that unzip to over 1 GB of sheet XML;
  - a sheet of 1,048,576 rows (Excel's most).
For each it prints the time from the POST to the job's end, the job's Chinese message, and the
Celery worker's peak memory (its processes and the reader's, summed), while five users browse and
the pages' p95 is taken. Targets: each refused in seconds, the worker under 1 GB, pages answering.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hostile-"))

    print("preparing the database and the files …", flush=True)
    recreate_database(args.database_url)
    setup_django(args.database_url)
    load_plan()
    from heating.models import County, Role
    from heating.services import user_create

    county = County.objects.get(short_name="忻府区")
    user_create(username="upload", password=PASSWORD, role=Role.COUNTY, county=county)
    for i in range(5):
        user_create(username=f"browse-{i}", password=PASSWORD, role=Role.COUNTY, county=county)
    files = {
        "declared XFD1048576": book(folder / "dimension.xlsx", far_cell(True)),
        "undeclared XFD1048576": book(folder / "nodimension.xlsx", far_cell(False)),
        "zip bomb": book(folder / "bomb.xlsx", zip_bomb),
        "1,048,576 rows": book(folder / "rows.xlsx", excel_max_rows),
    }
    for name, path in files.items():
        print(f"  {name:<22} {path.stat().st_size / 1e6:8.2f} MB", flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = start_services(
        server_env(args.database_url, folder / "media"), port, 2, 1, 10, folder / "access.log"
    )
    worker = processes[1]
    figures = Figures()
    done = threading.Event()
    peak = {"mb": 0.0}

    def watch() -> None:
        while not done.is_set():
            peak["mb"] = max(peak["mb"], tree_rss_mb(worker.pid))
            done.wait(0.05)

    import psycopg

    browsers = [
        threading.Thread(
            target=browse, args=(base, f"browse-{i}", "county", figures, done, i, [county.pk])
        )
        for i in range(5)
    ]
    watcher = threading.Thread(target=watch)
    try:
        watcher.start()
        for b in browsers:
            b.start()
        session = Session(base, "upload")
        time.sleep(3)
        idle = peak["mb"]
        print(f"\nthe worker at rest: {idle:.0f} MB\n")
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            for name, path in files.items():
                peak["mb"] = 0.0
                started = time.perf_counter()
                session.upload("/ledger/imports/", path)
                while True:
                    row = conn.execute(
                        "SELECT status, message FROM retrofits_ledgerimport "
                        "ORDER BY id DESC LIMIT 1"
                    ).fetchone()
                    if row and row[0] in ("succeeded", "failed"):
                        break
                    time.sleep(0.1)
                seconds = time.perf_counter() - started
                print(f"{name}: {row[0]} in {seconds:.1f} s, worker peak {peak['mb']:.0f} MB")
                print(f"  「{row[1][:160]}」")
        alive = worker.poll() is None
    finally:
        done.set()
        for b in browsers:
            b.join()
        watcher.join()
        stop(processes)
    every = [t for times in figures.pages.values() for t in times]
    print(
        f"\npages meanwhile: {len(every)} requests, p50 {statistics.median(every):.0f} ms, "
        f"p95 {pct(every, 0.95):.0f} ms, {len(figures.failures)} not 200"
    )
    print(f"the worker is {'still running' if alive else 'DEAD'}")


if __name__ == "__main__":
    main()
