"""The self-evaluation (绩效自评, issue 24): the score formula, the standard indicators, the pack's
figures against the portal's own pages and APIs, the files it writes, the rehearsal page."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from docx import Document
from openpyxl import load_workbook

from heating.models import AreaType, HeatingPath, PlanYear, User
from oversight.evaluation.measures import MEASURES, Actual, Context, Measure, pct
from oversight.evaluation.models import Direction, Indicator, Pack
from oversight.evaluation.pack import gather, write_pack
from oversight.evaluation.report import SECTIONS
from oversight.evaluation.scoring import evaluate, score
from oversight.evaluation.services import indicators_load
from retrofits.models import TenderItem
from retrofits.services.rollups import rollup_run
from tests.conftest import login

D = Decimal


@pytest.mark.parametrize(
    ("direction", "target", "actual", "expected"),
    [
        (Direction.AT_LEAST, "100", "80", "8.00"),  # actual ÷ target × weight
        (Direction.AT_LEAST, "100", "130", "10.00"),  # never above the weight
        (Direction.AT_LEAST, "3", "1", "3.33"),  # to the cent, half up
        (Direction.AT_LEAST, "0", "0", "10.00"),  # a target of 0 asks nothing
        (Direction.AT_MOST, "2", "1.5", "10.00"),  # within the target: the weight
        (Direction.AT_MOST, "2", "5", "4.00"),  # past it: target ÷ actual × weight
        (Direction.AT_MOST, "0", "1", "0.00"),  # 0 breaches allowed, one found
        (Direction.AT_MOST, "0", "0", "10.00"),
        (Direction.AT_LEAST, "100", None, "0.00"),  # no data yet
        (Direction.AT_LEAST, None, "50", "0.00"),  # no target
    ],
)
def test_the_score_follows_the_self_evaluation_formula(
    direction: str, target: str | None, actual: str | None, expected: str
) -> None:
    got = score(
        weight=D(10),
        direction=direction,
        target=None if target is None else D(target),
        actual=None if actual is None else D(actual),
    )
    assert got == D(expected)


def test_the_standard_indicators_have_the_standard_layout(db: None) -> None:
    plan_year = PlanYear.objects.get(year=2023)
    assert indicators_load(plan_year=plan_year) == 30
    weights: dict[str, Decimal] = {}
    for indicator in Indicator.objects.filter(plan_year=plan_year):
        weights[indicator.level1] = weights.get(indicator.level1, D(0)) + indicator.weight
    assert weights == {"预算执行": 10, "产出指标": 50, "效益指标": 30, "满意度指标": 10}
    # The bureau's edits stay when the standard set is loaded again.
    kept = Indicator.objects.get(plan_year=plan_year, code="first_pass")
    kept.target, kept.deviation = D(98), "个别村入户晚"
    kept.save()
    assert indicators_load(plan_year=plan_year) == 0
    kept.refresh_from_db()
    assert (kept.target, kept.deviation) == (D(98), "个别村入户晚")


@pytest.fixture
def city(tender: list[TenderItem]) -> PlanYear:
    """The 1% demo city with every app's demo steps, counted, and the standard indicators."""
    call_command("generate_households", "--scale", "0.01", stdout=io.StringIO())
    rollup_run()
    plan_year = PlanYear.objects.get(year=2023)
    indicators_load(plan_year=plan_year)
    return plan_year


def _actual(plan_year: PlanYear, as_of: dt.date, code: str) -> Decimal | None:
    row = next(
        r for r in evaluate(plan_year=plan_year, as_of=as_of).rows if r.indicator.code == code
    )
    return row.actual.value


def test_every_figure_equals_the_portals_own(
    client: Client, municipal: User, city: PlanYear
) -> None:
    today = timezone.localdate()
    evaluation = {r.indicator.code: r for r in evaluate(plan_year=city, as_of=today).rows}
    login(client, municipal)

    progress = client.get("/api/progress?year=2023").json()
    for path in HeatingPath.values:
        for area in AreaType.values:
            cells = [
                cell
                for county in progress["counties"]
                for cell in county["cells"]
                if (cell["path"], cell["area"]) == (path, area)
            ]
            row = evaluation[f"done_{path}_{area}"]
            assert row.actual.value == sum(c["completed"] for c in cells), (path, area)
            assert row.target == sum(c["target"] for c in cells), (path, area)
    urban = [c for county in progress["counties"] for c in county["cells"] if c["area"] == "urban"]
    assert evaluation["rate_urban"].actual.value == pct(
        sum(c["completed"] for c in urban), sum(c["target"] for c in urban)
    )

    funds = client.get("/api/funds?year=2023").json()["funds"]
    assert funds, "the demo city has funds"
    allocated = sum(D(f["allocated"]) for f in funds)
    spent = sum(D(f["spent"]) for f in funds)
    assert evaluation["budget_execution"].actual.value == pct(spent, allocated)

    energy = client.get("/api/energy?year=2023").json()["counties"]
    grid = pct(
        sum(c["grid"]["energized"] for c in energy), sum(c["grid"]["completed"] for c in energy)
    )
    gas = pct(
        sum(c["gas_network"]["connected"] for c in energy),
        sum(c["gas_network"]["completed"] for c in energy),
    )
    assert (
        evaluation["grid_energized"].actual.value,
        evaluation["gas_connected"].actual.value,
    ) == (
        grid,
        gas,
    )

    tickets = client.get("/api/tickets?year=2023").json()["counties"]
    assert sum(t["closed"] for t in tickets), "the demo city has closed tickets"
    assert evaluation["tickets_on_time"].actual.value == pct(
        sum(t["closed_on_time"] for t in tickets), sum(t["closed"] for t in tickets)
    )
    assert evaluation["callback_satisfaction"].actual.value == pct(
        sum(t["satisfied"] for t in tickets), sum(t["called_back"] for t in tickets)
    )

    buildings = client.get(reverse("dashboard") + "?year=2023").context["buildings"]
    for kind, code in (("town", "building_town"), ("rural_envelope", "building_rural")):
        wan = (buildings.accepted(kind) / 10000).quantize(D("0.01"))
        assert evaluation[code].actual.value == wan

    # As of an earlier day, only what had happened by then.
    early = city.works_start
    assert _actual(city, early - dt.timedelta(days=1), "done_district_rural") == 0


def test_the_pack_is_the_same_for_the_same_year_day_and_seed(
    city: PlanYear, tmp_path: Path
) -> None:
    as_of = dt.date(2024, 4, 30)
    first = gather(plan_year=city, as_of=as_of, seed="抽样A", sample_size=40)
    again = gather(plan_year=city, as_of=as_of, seed="抽样A", sample_size=40)
    other = gather(plan_year=city, as_of=as_of, seed="抽样B", sample_size=40)
    assert first.digest == again.digest
    assert first.sample == again.sample and len(first.sample) == 40
    assert other.digest != first.digest
    # A typed 偏差原因 is part of what the pack says.
    Indicator.objects.filter(plan_year=city, code="first_pass").update(deviation="入户晚")
    assert gather(plan_year=city, as_of=as_of, seed="抽样A", sample_size=40).digest != first.digest

    files = write_pack(first, tmp_path / "pack")
    document = Document(str(files.report))
    text = "\n".join(p.text for p in document.paragraphs)
    for heading in SECTIONS:
        assert heading in text
    assert first.digest in text
    assert len(document.inline_shapes) == 2  # the charts
    indicator_table = document.tables[-1]
    assert len(indicator_table.rows) == 1 + len(first.evaluation.rows) + 1  # header, rows, 合计
    assert indicator_table.rows[-1].cells[-2].text == f"{first.evaluation.total.normalize():,f}"

    sheet = load_workbook(files.table).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=6, values_only=True))
    scored = rows[: len(first.evaluation.rows)]
    for _level1, _, _, direction, _, target, actual, weight, earned, _, _ in scored:
        expected = score(
            weight=D(str(weight)),
            direction=Direction.AT_MOST if direction == "反向（≤）" else Direction.AT_LEAST,
            target=None if target is None else D(str(target)),
            actual=None if actual is None else D(str(actual)),
        )
        assert D(str(earned)) == expected
    total = rows[len(scored)]
    assert total[0] == "合计" and D(str(total[8])) == first.evaluation.total
    assert D(str(total[7])) == 100

    assert files.evidence.read_bytes().startswith(b"%PDF")


def test_the_command_prints_the_same_digest_twice(city: PlanYear, tmp_path: Path) -> None:
    said = []
    for out in ("a", "b"):
        stdout = io.StringIO()
        call_command(
            "evaluation_pack", "--year", "2023", "--as-of", "2024-04-30",
            "--out", str(tmp_path / out), "--sample", "20", stdout=stdout,
        )  # fmt: skip
        said.append(stdout.getvalue().strip().splitlines()[-1])
        assert len(list((tmp_path / out).iterdir())) == 3
    assert said[0] == said[1] and "内容摘要" in said[0]


def test_the_rehearsal_shows_what_would_raise_the_score_most(
    client: Client, municipal: User, official: User, city: PlanYear
) -> None:
    login(client, official)
    assert client.get(reverse("evaluation")).status_code == 403

    login(client, municipal)
    first_pass = Indicator.objects.get(plan_year=city, code="first_pass")
    # A target nobody reaches: the indicator loses nearly all its points and leads the list.
    page = client.post(
        reverse("evaluation-indicator", args=[first_pass.pk]) + "?year=2023",
        {"target": "-1", "deviation": "说明"},
    )
    assert page.status_code == 400
    assert "说明" in page.content.decode()  # what was typed stays
    first_pass.refresh_from_db()
    assert first_pass.target == 95

    Indicator.objects.filter(plan_year=city, code="completeness").update(target=None)
    client.post(
        reverse("evaluation-indicator", args=[first_pass.pk]) + "?year=2023",
        {"target": "100000000", "deviation": "入户晚"},
    )
    first_pass.refresh_from_db()
    assert (first_pass.target, first_pass.deviation) == (D(100000000), "入户晚")
    assert first_pass.history.count() == 2
    page = client.get(reverse("evaluation") + "?year=2023")
    html = page.content.decode()
    raising = page.context["raising"]
    # The most lost first; the impossible target makes first_pass lose nearly all its 4 points.
    assert [r.lost for r in raising] == sorted((r.lost for r in raising), reverse=True)
    everything = page.context["evaluation"].raising()
    assert raising == everything[: len(raising)]
    lost = next(r for r in everything if r.indicator.code == "first_pass")
    assert lost.lost > D("3.99")
    assert "再提高" in lost.advice and f"可加 {lost.lost} 分" in lost.advice
    assert "首次验收合格率" in html and "可加" in html


def test_the_pack_form_starts_at_the_rehearsals_day(
    client: Client, municipal: User, city: PlanYear
) -> None:
    # A date input shows only an ISO value: the whole-city tour found the pack's day blank.
    login(client, municipal)
    html = client.get(reverse("evaluation") + "?year=2023&as_of=2024-04-30").content.decode()
    assert 'type="date" name="as_of" value="2024-04-30" required id="id_as_of"' in html


def test_the_pack_is_made_on_a_button_and_downloaded_by_the_bureau_only(
    client: Client,
    municipal: User,
    official: User,
    city: PlanYear,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, municipal)
    refused = client.post(
        reverse("evaluation-pack-create") + "?year=2023",
        {"as_of": "2999-01-01", "seed": "x", "sample_size": "20"},
    )
    assert refused.status_code == 400 and "不能晚于今天" in refused.content.decode()
    assert not Pack.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):  # the job starts once it commits
        made = client.post(
            reverse("evaluation-pack-create") + "?year=2023",
            {"as_of": "2024-04-30", "seed": "", "sample_size": "20"},
        )
    assert made.status_code == 302
    pack = Pack.objects.get()
    pack.refresh_from_db()
    assert pack.status == Pack.Status.DONE, pack.message
    assert pack.seed == "2023-20240430" and len(pack.sample) == 20 and len(pack.digest) == 64
    answer = client.get(reverse("evaluation-pack-file", args=[pack.pk]) + "?file=table")
    assert answer.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(answer.streaming_content)))  # type: ignore[attr-defined]
    assert pack.digest in json.dumps(
        [c for r in workbook.active.values for c in r], ensure_ascii=False
    )

    login(client, official)
    assert client.get(reverse("evaluation-pack-file", args=[pack.pk])).status_code == 403


def test_the_rehearsal_keeps_its_figures_until_asked_to_measure_again(
    client: Client, municipal: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_year = PlanYear.objects.get(year=2023)
    indicators_load(plan_year=plan_year)
    reads: list[str] = []
    original = MEASURES["first_pass"]

    def counted(ctx: Context) -> Actual:
        reads.append(ctx.as_of.isoformat())
        return original.read(ctx)

    monkeypatch.setitem(MEASURES, "first_pass", Measure(original.label, original.unit, counted))
    login(client, municipal)
    url = reverse("evaluation") + "?year=2023&as_of=2023-11-01"
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    assert reads == ["2023-11-01"]  # measured once, kept
    assert client.get(url + "&fresh=1").status_code == 200
    assert client.get(reverse("evaluation") + "?year=2023&as_of=2023-11-02").status_code == 200
    assert reads == ["2023-11-01", "2023-11-01", "2023-11-02"]
    assert client.get(reverse("evaluation") + "?year=2023&as_of=2023-13-01").status_code == 400


def test_a_pack_whose_worker_died_is_failed_in_chinese(client: Client, municipal: User) -> None:
    plan_year = PlanYear.objects.get(year=2023)
    stuck = Pack.objects.create(
        plan_year=plan_year, as_of=dt.date(2024, 4, 30), seed="s", sample_size=10,
        status=Pack.Status.RUNNING,
    )  # fmt: skip
    fresh = Pack.objects.create(
        plan_year=plan_year, as_of=dt.date(2024, 4, 30), seed="t", sample_size=10,
        status=Pack.Status.RUNNING,
    )  # fmt: skip
    Pack.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    login(client, municipal)
    page = client.get(reverse("evaluation-packs") + "?year=2023")
    assert "生成超时" in page.content.decode()
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (stuck.status, fresh.status) == (Pack.Status.FAILED, Pack.Status.RUNNING)
    assert 'hx-trigger="every 2s"' in page.content.decode()  # the other one is still awaited
