"""The ledger's pages: each role × each view, masking, forms that keep input, the web import."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from heating.models import County, Township, User, Village
from retrofits.choices import Stage
from retrofits.models import Household, LedgerImport, TenderItem
from retrofits.rules import PLAN_RULES, Breach, Touched
from tests.conftest import login
from tests.ledger_files import IDS, row, xlsx, yuanping_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def households(tmp_path: Path, tender: list[TenderItem]) -> dict[str, Household]:
    yuanping = yuanping_row(
        户主姓名="王五", 取暖路径="集中供热", 设备型号=None, 联系电话="0350-3031234"
    )
    call_command("import_ledger", str(xlsx(tmp_path, [row(), yuanping])), stdout=io.StringIO())
    return {h.code: h for h in Household.objects.all()}


def detail(h: Household) -> str:
    return reverse("household-detail", args=[h.pk])


def edit(h: Household) -> str:
    return reverse("household-edit", args=[h.pk])


@pytest.mark.parametrize(
    "name",
    ["household-list", "household-create", "ledger-export", "ledger-template", "ledger-import"],
)
def test_ledger_pages_need_login(client: Client, name: str) -> None:
    assert client.get(reverse(name)).status_code == 302


def test_official_lists_only_their_county_with_full_personal_data(
    client: Client, official: User, households: dict[str, Household]
) -> None:
    page = login(client, official).get(reverse("household-list")).content.decode()
    assert "XF-0001" in page and "YP-1" not in page
    assert IDS[0] in page and "13812345678" in page


def test_municipal_lists_every_county_masked_and_read_only(
    client: Client, municipal: User, households: dict[str, Household]
) -> None:
    page = login(client, municipal).get(reverse("household-list")).content.decode()
    assert "XF-0001" in page and "YP-1" in page
    assert IDS[0] not in page and "140902********012X" in page
    assert "138****5678" in page
    assert reverse("household-create") not in page


def test_inspector_sees_their_counties_masked(
    client: Client, inspector: User, households: dict[str, Household]
) -> None:
    page = login(client, inspector).get(reverse("household-list")).content.decode()
    assert "XF-0001" in page and "YP-1" not in page
    assert IDS[0] not in page


def test_list_filters_and_searches(
    client: Client, municipal: User, households: dict[str, Household]
) -> None:
    login(client, municipal)
    page = client.get(reverse("household-list"), {"path": "district"}).content.decode()
    assert "YP-1" in page and "XF-0001" not in page
    page = client.get(reverse("household-list"), {"q": "张三"}).content.decode()
    assert "XF-0001" in page and "YP-1" not in page
    assert client.get(reverse("household-list"), {"q": "YP-1"}).context["page"].paginator.count == 1
    # The bureau sees ID numbers masked: it cannot search by them either (see test_personal_data).
    assert client.get(reverse("household-list"), {"q": IDS[3]}).context["page"].paginator.count == 0


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("张", ["XF-0001"]),  # a surname: the name's beginning
        ("王五", ["YP-1"]),
        ("0001", ["XF-0001"]),  # a code's tail
        ("9001", []),  # its last three characters, but not the whole tail typed
        (IDS[3][-6:], ["YP-1"]),  # an ID number's last digits
        (IDS[0][-4:].lower(), ["XF-0001"]),  # ...ending in x, typed small
        ("三", []),  # not the beginning of a name
    ],
)
def test_search_finds_as_people_type(
    client: Client,
    administrator: User,
    households: dict[str, Household],
    typed: str,
    found: list[str],
) -> None:
    page = login(client, administrator).get(reverse("household-list"), {"q": typed})
    assert [h.code for h, _, _ in page.context["rows"]] == found
    assert "末几位" in page.content.decode()  # the hint shows


@pytest.mark.parametrize(
    ("lookup", "typed"),
    [("holding", IDS[0]), ("search", IDS[0]), ("search", IDS[0][-6:])],
)
def test_each_id_number_lookup_goes_through_the_one_index_on_its_reverse(
    administrator: User, households: dict[str, Household], lookup: str, typed: str
) -> None:
    """The ID number has no index of its own, only the unique one on its reverse: a lookup
    written as `id_number = …` would read the whole ledger at a million households."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans; the PostgreSQL pass runs it")
    assert households["XF-0001"].id_number == IDS[0]
    found = (
        Household.objects.holding_id_number(typed)
        if lookup == "holding"
        else Household.objects.search(typed, user=administrator)
    )
    assert list(found) == [households["XF-0001"]]
    assert "household_id_number_unique" in plan(found)


def test_a_codes_tail_is_searched_through_the_index_of_its_last_characters(
    administrator: User, households: dict[str, Household]
) -> None:
    """A code's tail is looked up by its last three characters' index and the rest checked on
    what it finds: `code LIKE '%0001'` alone would read the whole ledger at a million."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans; the PostgreSQL pass runs it")
    found = Household.objects.search("0001", user=administrator)
    assert list(found) == [households["XF-0001"]]
    assert "Index Cond: (\"right\"((code)::text, 3) = '001'::text)" in plan(found)


def plan(found: Any) -> str:
    """What serves the query, not what is cheapest for a table of two households."""
    sql, params = found.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(line for (line,) in cursor.fetchall())


@pytest.mark.parametrize(
    ("actor", "code", "status"),
    [
        ("official", "XF-0001", 200),
        ("official", "YP-1", 404),
        ("other_official", "XF-0001", 404),
        ("inspector", "XF-0001", 200),
        ("inspector", "YP-1", 404),
        ("municipal", "YP-1", 200),
        ("administrator", "YP-1", 200),
    ],
)
def test_dossier_is_404_outside_the_users_counties(
    client: Client,
    request: pytest.FixtureRequest,
    households: dict[str, Household],
    actor: str,
    code: str,
    status: int,
) -> None:
    user = request.getfixturevalue(actor)
    assert login(client, user).get(detail(households[code])).status_code == status


def test_dossier_shows_the_whole_file_and_its_history(
    client: Client, official: User, households: dict[str, Household]
) -> None:
    page = login(client, official).get(detail(households["XF-0001"])).content.decode()
    for text in ("张三", IDS[0], "奇村镇", "辛庄村委会", "KRS-8P", "已选型", "建档"):
        assert text in page


@pytest.mark.parametrize(
    ("actor", "code", "status"),
    [
        ("official", "XF-0001", 200),
        ("official", "YP-1", 404),
        ("municipal", "XF-0001", 403),
        ("inspector", "XF-0001", 403),
    ],
)
def test_only_the_households_county_edits_it(
    client: Client,
    request: pytest.FixtureRequest,
    households: dict[str, Household],
    actor: str,
    code: str,
    status: int,
) -> None:
    user = request.getfixturevalue(actor)
    assert login(client, user).get(edit(households[code])).status_code == status


@pytest.mark.parametrize(
    ("actor", "status"),
    [("official", 200), ("administrator", 200), ("municipal", 403), ("inspector", 403)],
)
def test_only_those_who_keep_a_ledger_create(
    client: Client, request: pytest.FixtureRequest, actor: str, status: int
) -> None:
    assert (
        login(client, request.getfixturevalue(actor)).get(reverse("household-create")).status_code
        == status
    )


def form_data(h: Household | None = None, **changes: object) -> dict[str, object]:
    township = Township.objects.get(name="奇村镇")
    data: dict[str, object] = {
        "code": "XF-0100",
        "township": township.pk,
        "village": Village.objects.get(township=township, name="辛庄村委会").pk,
        "head_name": "李四",
        "id_number": IDS[4],
        "phone": "13900001111",
        "area": "rural",
        "path": "electric",
        "equipment": TenderItem.objects.get(model="KRS-8P").pk,
        "stage": "selected",
        "completed_on": "",
        "notes": "",
        "plan_year": 2023,
        "reason": "",
    }
    if h is not None:
        data.update(code=h.code, id_number=h.id_number, head_name=h.head_name, phone=h.phone)
    data.update(changes)
    return data


def test_official_creates_a_household(
    client: Client, official: User, tender: list[TenderItem]
) -> None:
    response = login(client, official).post(reverse("household-create"), form_data())
    household = Household.objects.get(code="XF-0100")
    assert response.status_code == 302
    assert (household.county.short_name, household.created_by) == ("忻府区", official)


def test_a_bad_form_keeps_what_was_typed(
    client: Client, official: User, tender: list[TenderItem]
) -> None:
    response = login(client, official).post(
        reverse("household-create"), form_data(id_number="140902196503080121", phone="12")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "校验位错误" in page and "应为11位手机号" in page
    assert 'value="李四"' in page and 'value="XF-0100"' in page
    assert not Household.objects.filter(code="XF-0100").exists()


def test_an_empty_id_number_is_asked_for_once_by_name(
    client: Client, official: User, tender: list[TenderItem]
) -> None:
    response = login(client, official).post(reverse("household-create"), form_data(id_number=""))
    assert response.context["form"].errors["id_number"] == ["请填写身份证号"]
    assert "为0位" not in response.content.decode()


def test_an_id_number_the_county_already_holds_is_the_id_number_fields_error(
    client: Client, official: User, households: dict[str, Household]
) -> None:
    # The unique constraint is on the number's reverse (one index for the rule and the
    # last-digits search): its error must still land beside the field, the input kept.
    held = households["XF-0001"].id_number
    response = login(client, official).post(reverse("household-create"), form_data(id_number=held))
    form = response.context["form"]
    assert form.errors["id_number"] == [
        "该身份证号已登记（一个身份证号只能登记一户），如有疑问请联系市能源局核实"
    ]
    assert not form.non_field_errors()
    assert 'value="XF-0100"' in response.content.decode()
    assert not Household.objects.filter(code="XF-0100").exists()
    assert Household.objects.holding_id_number(held).get() == households["XF-0001"]


def test_the_form_offers_the_paths_own_models_and_says_choose_in_chinese(
    client: Client, official: User, tender: list[TenderItem]
) -> None:
    login(client, official)
    page = client.get(
        reverse("household-create") + f"?county={County.objects.get(short_name='忻府区').pk}"
    )
    assert "---------" not in page.content.decode() and "请选择" in page.content.decode()
    electric = client.post(reverse("household-create"), form_data(code="", path="electric"))
    offered = {str(m) for m in electric.context["form"].fields["equipment"].queryset}
    assert offered == {"KRS-8P（空气源热泵）", "XR-3000（蓄热式电暖器）"}  # no gas boiler
    options = client.get(reverse("equipment-options"), {"path": "gas"}).content.decode()
    assert "BG-20" in options and "KRS-8P" not in options
    gas_boiler = TenderItem.objects.get(model="BG-20").pk
    refused = client.post(reverse("household-create"), form_data(equipment=gas_boiler))
    assert refused.context["form"].errors["equipment"] == [
        "该型号不是所选取暖路径的中标设备，请重新选择"
    ]
    assert client.get(reverse("equipment-options"), {"path": "火星"}).status_code == 400


def test_a_skipped_stage_needs_a_reason_kept_in_history(
    client: Client, official: User, households: dict[str, Household]
) -> None:
    h = households["XF-0001"]
    login(client, official)
    done = {"stage": "completed", "completed_on": "2023-10-10"}
    response = client.post(edit(h), form_data(h, **done))
    assert "请填写原因" in response.content.decode()
    h.refresh_from_db()
    assert h.stage == Stage.SELECTED

    response = client.post(edit(h), form_data(h, **done, reason="补录：施工队漏报"))
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.stage == Stage.COMPLETED
    assert h.history.first().history_change_reason == "补录：施工队漏报"
    page = client.get(detail(h)).content.decode()
    assert "实施进度：已选型 → 已完工" in page and "补录：施工队漏报" in page


def test_the_next_stage_needs_no_reason(
    client: Client, official: User, households: dict[str, Household]
) -> None:
    h = households["XF-0001"]
    response = login(client, official).post(edit(h), form_data(h, stage="building"))
    assert response.status_code == 302


def test_forms_cannot_make_a_household_accepted(
    client: Client, official: User, households: dict[str, Household]
) -> None:
    h = households["XF-0001"]
    response = login(client, official).post(
        edit(h), form_data(h, stage="accepted", completed_on="2023-10-01", reason="x")
    )
    assert response.status_code == 200
    assert not Household.objects.filter(stage=Stage.ACCEPTED).exists()


def test_village_options_follow_the_township(client: Client, official: User) -> None:
    login(client, official)
    township = Township.objects.get(name="奇村镇")
    page = client.get(reverse("village-options"), {"township": township.pk}).content.decode()
    assert "辛庄村委会" in page
    other = Township.objects.get(name="北城街道")
    assert client.get(reverse("village-options"), {"township": other.pk}).status_code == 404


def test_export_masks_for_the_city_and_not_for_the_county(
    client: Client, official: User, municipal: User, households: dict[str, Household]
) -> None:
    mine = load_workbook(
        io.BytesIO(login(client, official).get(reverse("ledger-export")).content)
    ).active
    assert [c.value for c in mine[2]][:1] == ["XF-0001"] and mine["F2"].value == IDS[0]
    assert mine.max_row == 2
    city = load_workbook(
        io.BytesIO(login(client, municipal).get(reverse("ledger-export")).content)
    ).active
    assert city.max_row == 3
    assert city["F2"].value == "140902********012X"


def test_export_follows_the_filter(
    client: Client, municipal: User, households: dict[str, Household]
) -> None:
    response = login(client, municipal).get(reverse("ledger-export"), {"path": "district"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [r[0].value for r in sheet.iter_rows(min_row=2)] == ["YP-1"]


def test_the_template_has_headers_hints_and_drop_downs(
    client: Client, official: User, tender: list[TenderItem]
) -> None:
    response = login(client, official).get(reverse("ledger-template"))
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["清洁取暖改造户台账"]
    assert sheet["A1"].value == "户编号" and sheet["N1"].value == "备注"
    assert "必填" in sheet["F1"].comment.text
    sources = {
        str(dv.sqref).split(":")[0]: dv.formula1 for dv in sheet.data_validations.dataValidation
    }
    assert set(sources) >= {"B2", "C2", "H2", "I2", "J2", "K2", "M2"}
    options = book["选项"]
    assert options.sheet_state == "hidden"
    assert [c.value for c in options["A"] if c.value] == ["忻府区"]
    assert "奇村镇" in [c.value for c in options["B"]]


def test_every_drop_down_of_the_template_offers_its_values(
    client: Client, official: User, tender: list[TenderItem]
) -> None:
    """Each list is read where its validation points on the 选项 sheet (they once pointed at
    columns that held nothing)."""
    response = login(client, official).get(reverse("ledger-template"))
    book = load_workbook(io.BytesIO(response.content))
    sheet, options = book["清洁取暖改造户台账"], book["选项"]
    header = {cell.column_letter: cell.value for cell in sheet[1]}
    offered = {}
    for validation in sheet.data_validations.dataValidation:
        column = str(validation.sqref).split(":")[0].rstrip("0123456789")
        cells = options[validation.formula1.removeprefix("选项!").replace("$", "")]
        offered[header[column]] = [c.value for (c,) in cells]
    assert offered["县（市、区）"] == ["忻府区"]
    assert "奇村镇" in offered["乡（镇、街道）"]
    assert offered["城乡类型"] == ["城区/县城", "农村"]
    assert offered["取暖路径"] == ["集中供热", "煤改电", "煤改气", "生物质热电联产"]
    assert set(offered["设备型号"]) == {"KRS-8P", "XR-3000", "BG-20"}
    assert offered["实施进度"] == ["已确户", "已选型", "施工中", "已完工"]
    assert offered["低收入户"] == ["是", "否"]


def test_web_import_runs_as_a_job_with_a_result(
    client: Client,
    official: User,
    tender: list[TenderItem],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, official)
    with xlsx(tmp_path, [row()]).open("rb") as f, django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ledger-import"), {"file": f})
    job = LedgerImport.objects.get()
    assert response["Location"] == reverse("ledger-import-detail", args=[job.pk])
    assert (job.status, job.created_count, job.percent) == ("succeeded", 1, 100)
    page = client.get(response["Location"]).content.decode()
    assert "新增 1，更新 0，未变 0" in page
    assert "hx-trigger" not in page  # finished: the page stops polling


def test_a_running_job_page_polls_for_progress(client: Client, official: User) -> None:
    job = LedgerImport.objects.create(
        original_name="a.xlsx", created_by=official, county=official.county, status="running",
        total_rows=200, processed_rows=50, phase="逐行检查",
    )  # fmt: skip
    page = login(client, official).get(
        reverse("ledger-import-detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    )
    text = page.content.decode()
    assert 'value="25"' in text and 'hx-trigger="every 1s"' in text and "逐行检查" in text


def test_web_import_errors_come_back_as_an_annotated_file(
    client: Client,
    official: User,
    tender: list[TenderItem],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, official)
    bad = [row(), row(户编号="XF-0002", 身份证号=IDS[1], 城乡类型="郊区")]
    with xlsx(tmp_path, bad).open("rb") as f, django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("ledger-import"), {"file": f})
    job = LedgerImport.objects.get()
    assert job.status == "failed" and job.error_count == 1
    assert not Household.objects.exists()
    page = client.get(reverse("ledger-import-detail", args=[job.pk])).content.decode()
    assert "郊区" in page and "应为 城区/县城 或 农村" in page
    download = client.get(reverse("ledger-import-errors", args=[job.pk]))
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).active  # type: ignore[attr-defined]
    assert sheet["O1"].value == "错误说明"
    assert sheet["O2"].value is None
    assert "第3行「城乡类型」" in sheet["O3"].value


def test_web_import_refuses_other_file_types(client: Client, official: User) -> None:
    response = login(client, official).post(
        reverse("ledger-import"), {"file": io.BytesIO(b"x")}, format="multipart"
    )
    assert response.status_code == 200
    assert not LedgerImport.objects.exists()


@pytest.mark.parametrize("actor", ["municipal", "inspector"])
def test_only_county_officials_import(
    client: Client, request: pytest.FixtureRequest, actor: str
) -> None:
    assert (
        login(client, request.getfixturevalue(actor)).get(reverse("ledger-import")).status_code
        == 403
    )


def test_another_users_job_is_404(client: Client, official: User, other_official: User) -> None:
    job = LedgerImport.objects.create(
        original_name="a.xlsx", created_by=official, county=official.county
    )
    assert (
        login(client, other_official)
        .get(reverse("ledger-import-detail", args=[job.pk]))
        .status_code
        == 404
    )


def test_pages_refuse_wrong_methods(client: Client, official: User) -> None:
    login(client, official)
    assert client.post(reverse("household-list")).status_code == 405
    assert client.delete(reverse("household-create")).status_code == 405


def test_an_administrators_admin_edit_goes_through_the_rules(
    client: Client, administrator: User, households: dict[str, Household]
) -> None:
    h = households["XF-0001"]
    login(client, administrator)
    url = reverse("admin:retrofits_household_change", args=[h.pk])
    form = client.get(url).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(stage="accepted", completed_on="2023-10-01", low_income="")
    response = client.post(url, data)
    assert response.status_code == 200  # refused: 已验收 comes only from acceptance
    assert "只能由验收记录产生" in response.content.decode()
    h.refresh_from_db()
    assert h.stage == Stage.SELECTED


def test_list_sorts_by_indexed_orders_only(
    client: Client, municipal: User, households: dict[str, Household]
) -> None:
    login(client, municipal)

    def codes(order: str) -> list[str]:
        rows = client.get(reverse("household-list"), {"order": order}).context["rows"]
        return [h.code for h, _, _ in rows]

    assert codes("code") == ["XF-0001", "YP-1"]
    assert codes("-code") == ["YP-1", "XF-0001"]
    assert codes("-completed_on") == ["XF-0001", "YP-1"]  # neither done: by code, blanks last
    # An order no index serves is an invalid filter: said so, with no rows, never ignored.
    response = client.get(reverse("household-list"), {"order": "head_name"})
    assert response.status_code == 400
    assert "筛选条件「排序」无效" in response.content.decode()
    assert response.context["rows"] == []


def test_a_crashed_job_says_so_instead_of_polling_forever(
    client: Client,
    official: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("retrofits.ledger.jobs.import_ledger", explode)
    login(client, official)
    with (
        xlsx(tmp_path, [row()]).open("rb") as f,
        pytest.raises(RuntimeError),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(reverse("ledger-import"), {"file": f})
    job = LedgerImport.objects.get()
    assert job.status == "failed" and "系统错误" in job.message


def test_an_administrator_imports_any_county(
    client: Client,
    administrator: User,
    tender: list[TenderItem],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    other = yuanping_row(户编号="YP-9")
    login(client, administrator)
    with (
        xlsx(tmp_path, [row(), other]).open("rb") as f,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(reverse("ledger-import"), {"file": f})
    assert LedgerImport.objects.get().created_count == 2


def test_a_huge_list_counts_up_to_a_cap(
    client: Client,
    municipal: User,
    households: dict[str, Household],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("retrofits.pagination.COUNT_CAP", 1)
    monkeypatch.setattr("retrofits.views.COUNT_CAP", 1)
    response = login(client, municipal).get(reverse("household-list"))
    assert response.context["page"].paginator.capped
    assert "超过 1 户，请用筛选缩小范围" in response.content.decode()


def test_a_refused_junk_upload_leaves_nothing_on_disk_and_says_why(
    client: Client, official: User, django_capture_on_commit_callbacks: Any
) -> None:
    junk = SimpleUploadedFile("ledger.xlsx", b"PK\\x03\\x04" + bytes(range(256)) * 64)
    login(client, official)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ledger-import"), {"file": junk})
    job = LedgerImport.objects.get()
    assert (
        job.status == "failed" and job.message == "无法读取文件：请上传 Excel（.xlsx）或 CSV 文件。"
    )
    assert not job.file
    assert not list((Path(settings.MEDIA_ROOT) / "ledger-imports").rglob("*.xlsx"))
    page = client.get(response["Location"]).content.decode()
    assert "<progress" not in page and "无法读取文件" in page
    listed = client.get(reverse("ledger-import")).content.decode()
    assert "无法读取文件" in listed


def test_an_administrator_picks_the_county_of_a_new_household(
    client: Client, administrator: User, tender: list[TenderItem]
) -> None:
    login(client, administrator)
    picker = client.get(reverse("household-create"))
    assert picker.templates[0].name == "retrofits/pick_county.html"
    xinfu = County.objects.get(short_name="忻府区").pk
    url = f"{reverse('household-create')}?county={xinfu}"
    assert "忻府区" in client.get(url).content.decode()
    assert client.post(url, form_data())["Location"].startswith("/households/")
    assert Household.objects.get(code="XF-0100").county_id == xinfu
    response = client.get(reverse("household-create"), {"county": "abc"})
    assert response.status_code == 400


def test_an_export_larger_than_a_sheet_is_refused_not_cut_short(
    client: Client,
    administrator: User,
    households: dict[str, Household],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """XlsxWriter drops the rows past the sheet's last without a word."""
    from heating import sheets

    monkeypatch.setattr(sheets, "EXCEL_ROWS", 1)
    response = login(client, administrator).get(reverse("ledger-export"))
    assert response.status_code == 400
    assert "共 2 行，超出 Excel 单个工作表 1 行的上限，未导出" in response.content.decode()
    with pytest.raises(CommandError, match="超出 Excel 单个工作表 1 行的上限"):
        call_command("export_ledger", str(tmp_path / "out.xlsx"))
    with pytest.raises(sheets.TooManyRows):
        sheets.write_sheet([["a"], ["b"]], [sheets.Column("a", "A", False, "")], title="t")
    monkeypatch.setattr(sheets, "EXCEL_ROWS", 2)
    call_command("export_ledger", str(tmp_path / "out.xlsx"), stdout=io.StringIO())
    rows = list(load_workbook(tmp_path / "out.xlsx").active.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 2


def test_an_admin_correction_is_written_once(
    monkeypatch: pytest.MonkeyPatch,
    client: Client,
    administrator: User,
    households: dict[str, Household],
) -> None:
    """The form checks values; the view writes once. (The form once ran the whole write as a dry
    run, locks, history and plan rules, and the admin then ran it again.)"""
    runs: list[frozenset[int]] = []

    def counted(touched: Touched) -> list[Breach]:
        runs.append(touched.counties)
        return []

    monkeypatch.setitem(PLAN_RULES, "counted", counted)
    h = households["XF-0001"]
    login(client, administrator)
    url = reverse("admin:retrofits_household_change", args=[h.pk])
    form = client.get(url).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(head_name="李四", low_income="")
    response = client.post(url, data)
    assert response.status_code == 302
    assert len(runs) == 1
    h.refresh_from_db()
    assert (h.head_name, h.history.count()) == ("李四", 2)
