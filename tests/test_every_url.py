"""Every URL × every role: each pattern of the URLconf (the admin's included) is fetched and posted
to as an anonymous visitor, a county official, an approver, an inspector and the 县级财政 of 忻府区,
the bureau and an administrator, on the objects of another county (原平市), whose household, import
job, visits, photos, projects, supply records and subsidy batch carry secrets: full ID numbers,
phones and 一卡通 account numbers, and marker names.

It fails on:
- a 500 for anyone;
- an anonymous answer that is not a redirect to a login page or a refusal;
- another county's object answering a county official or an inspector of 忻府区;
- a secret in any answer (page, xlsx, error file) to a role that may not see it: the full numbers
  to anyone but 原平市's officials and the administrator, the markers to 忻府区's users, a full
  一卡通 account number to anyone but its own county's 县级财政 (and the administrator);
- a write by a POST that the role may not make. Each POST replays the form the page shows to those
  who may use it (an administrator, or 原平市's own users), so that a missing check would write;
- a URL pattern this test does not know how to fill (new URLs are found, never skipped).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from acceptance.models import (
    Defect,
    HeatingRemoval,
    Inspection,
    InspectionPhoto,
    IntegrityFlag,
    Project,
    SpotCheck,
    SpotCheckItem,
)
from aftercare.models import Category, Channel, LookBack, LookBackItem, Ticket
from aftercare.services import TicketInput, ticket_create
from energy_supply.models import (
    FuelReserve,
    GasConnection,
    GasContract,
    GasNetwork,
    GridUpgrade,
    KeyProject,
    SupplyImport,
)
from energy_supply.sheets import NETWORK
from energy_supply.views import KINDS
from heating.models import (
    County,
    ExportJob,
    HeatingPath,
    PersonalDataAccess,
    PlanYear,
    Role,
    Township,
    User,
)
from heating.services import export_start, user_create
from oversight.dispatch.models import Alert, CountyReport, DispatchRound, ReportStep
from oversight.dispatch.services import report_save, report_step, round_open
from oversight.evaluation.models import Indicator, Pack
from oversight.evaluation.services import indicators_load, pack_make
from retrofits.models import Household, IdConflict, LedgerImport, TenderItem
from retrofits.services import household_save
from subsidies.models import Batch, Entitlement, Kind, Method, Policy
from subsidies.services.accounts import bank_accounts_import
from subsidies.services.batches import batch_approve, batch_create, batch_publicize, batch_submit
from tests.conftest import PASSWORD
from tests.images import JPEG
from tests.labels import latin_words
from tests.ledger_files import IDS, xlsx, yuanping_row
from tests.test_subsidies import household as a_household
from tests.test_subsidies_accounts import book
from tests.test_supply_import import a_network, sheet

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_pass_is_enough() -> None:
    # What it checks is the views' and the policy's, the same on either database; on PostgreSQL
    # the walk takes five minutes of CI for nothing new.
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite pass walks every URL")


ROLES = ["anonymous", "official", "approver", "inspector", "finance", "municipal", "administrator"]
# The roles of 忻府区 (its own users), to whom 原平市's objects are another county's.
OWN_COUNTY_ROLES = ("official", "approver", "inspector", "finance")

# 原平市's secrets. The numbers: what the household had, what it has, and one in an upload's error.
ID_OLD, ID_NEW, ID_ERROR = IDS[3], "140981198805050019", "140981199912120013"
PHONES = ["13911112222", "13933334444", "13955556666"]
NAME = "欧阳秘户"
# 一卡通 account numbers: 原平市's household's (on the roster and the dossier of 原平市's 县级财政),
# and a 忻府区 household's, which only 忻府区's 县级财政 may see.
ACCOUNT_THEIRS, ACCOUNT_OURS = "6228480099887766554", "6228480011223344556"
# Names only 原平市's own users and the city may see.
MARKERS = [
    NAME,
    "秘密燃气公司",
    "YP-DW-MIMI",
    "YP-GW-MIMI",
    "秘密煤业",
    "秘密重点项目",
    "秘密小区改造",
    "秘密调度问题",
    "秘密工单诉求",
    "秘密回头看问题",
]

# Text typed where a spreadsheet would run it (a round's title, a household's note, a supplier).
FORMULA = '=HYPERLINK("http://evil.example","点此核对")'

# Answers that are a refusal (or a redirect to a login page).
REFUSED = {401, 403, 404, 405}
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")
# Objects of no one county: a dispatch round and its upward report.
CITY_WIDE = {
    "dispatch-round",
    "dispatch-upward-xlsx",
    "dispatch-upward-docx",
    "evaluation-indicator",
    "evaluation-pack-file",
}
# Pages that name their object by a query parameter, not in the path: also walked on 原平市's batch.
BY_QUERY = {"subsidy-batch-notice": "batch", "subsidy-batch-roster": "batch"}
# What an anonymous visitor may open.
PUBLIC = {"login", "admin:login", "favicon.ico"}
# Tables that record reading, logins and derived figures, not the data: they may change on any request.
NOT_DATA = {"personaldataaccess", "rollupdue", "rolluprun", "progresscount", "trendpoint"}
NOT_DATA_PREFIXES = ("dailyprogress",)
# Fields that change by signing in, not by a write.
VOLATILE_FIELDS = {"last_login"}


def check_digit_ok(number: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17]


@dataclass
class World:
    other: County
    own: County
    household: Household
    failed_import: LedgerImport
    failed_supply_import: SupplyImport
    photo: InspectionPhoto
    project: Project
    key_project: KeyProject
    reserve: FuelReserve
    contract: GasContract
    upgrade: GridUpgrade
    network: GasNetwork
    dispatch_round: DispatchRound
    report: CountyReport
    report_alert: Alert
    export_job: ExportJob
    flag: IntegrityFlag
    spot_check: SpotCheck
    id_conflict: IdConflict
    ticket: Ticket
    lookback_item: LookBackItem
    batch: Batch
    indicator: Indicator
    pack: Pack
    users: dict[str, User] = field(default_factory=dict)
    replayers: list[User] = field(default_factory=list)
    # The usernames shown where the test's users have no names of their own.
    own_names: frozenset[str] = frozenset({"shi", "root", "yanshou", "HYPERLINK"})

    def object_for(self, url_name: str, kind: str | None = None) -> models.Model | None:
        if url_name in ("supply-detail", "supply-edit"):
            return {"contracts": self.contract, "upgrades": self.upgrade, "networks": self.network}[
                kind or ""
            ]
        return {
            "county": self.other,
            "dashboard/counties/<int:pk>/": self.other,
            "dashboard-township": self.household.township,
            "household-detail": self.household,
            "household-edit": self.household,
            "visit": self.household,
            "heating-removal": self.household,
            "gas-connection": self.household,
            "ledger-import-detail": self.failed_import,
            "ledger-import-errors": self.failed_import,
            "supply-import-detail": self.failed_supply_import,
            "supply-import-errors": self.failed_supply_import,
            "ledger-import-confirm": self.failed_import,
            "supply-import-confirm": self.failed_supply_import,
            "project-visit": self.project,
            "inspection-photo": self.photo,
            "key-project": self.key_project,
            "reserve-edit": self.reserve,
            "contract-cancel": self.contract,
            "dispatch-round": self.dispatch_round,
            "dispatch-upward-xlsx": self.dispatch_round,
            "dispatch-upward-docx": self.dispatch_round,
            "dispatch-report": self.report,
            "alert-open": self.report_alert,
            "export": self.export_job,
            "export-download": self.export_job,
            "integrity-flag-review": self.flag,
            "spot-check": self.spot_check,
            "spot-check-visit": self.household,
            "id-conflict": self.id_conflict,
            "id-conflict-resolve": self.id_conflict,
            "ticket-detail": self.ticket,
            "ticket-action": self.ticket,
            "lookback-detail": self.lookback_item.lookback,
            "lookback-item": self.lookback_item,
            "lookback-photo": self.lookback_item,
            "subsidy-batch-return": self.batch,
            "evaluation-indicator": self.indicator,
            "evaluation-pack-file": self.pack,
            "subsidy-account": self.household,
        }.get(url_name)

    def query_object(self, url_name: str) -> models.Model | None:
        return {"batch": self.batch}.get(BY_QUERY.get(url_name, ""))


@pytest.fixture
def world(
    tmp_path: Path, tender: list[TenderItem], django_capture_on_commit_callbacks: Any
) -> World:
    assert check_digit_ok(ID_NEW) and check_digit_ok(ID_ERROR)
    other, own = County.objects.get(short_name="原平市"), County.objects.get(short_name="忻府区")
    users = {
        "official": user_create(username="xf", password=PASSWORD, role=Role.COUNTY, county=own),
        "approver": user_create(
            username="xf-sh", password=PASSWORD, role=Role.APPROVER, county=own
        ),
        "inspector": user_create(
            username="ys", password=PASSWORD, role=Role.INSPECTOR, counties=[own]
        ),
        "finance": user_create(username="xf-cz", password=PASSWORD, role=Role.FINANCE, county=own),
        "municipal": user_create(username="shi", password=PASSWORD, role=Role.MUNICIPAL),
        "administrator": user_create(username="root", password=PASSWORD, role=Role.ADMIN),
    }
    their_official = user_create(username="yp", password=PASSWORD, role=Role.COUNTY, county=other)
    their_inspector = user_create(
        username="yp-ys", password=PASSWORD, role=Role.INSPECTOR, counties=[other]
    )

    done = yuanping_row(
        户主姓名=NAME, 联系电话=PHONES[0], 实施进度="已完工", 完工日期=dt.date(2023, 10, 1)
    )
    call_command("import_ledger", str(xlsx(tmp_path, [done])), stdout=io.StringIO())
    household = Household.objects.get(code="YP-1")
    household.id_number, household.phone, household.notes = ID_NEW, PHONES[1], FORMULA
    household_save(household=household, user=their_official, reason="录入错误")

    client = Client()
    client.force_login(their_official)
    bad = yuanping_row(户编号="YP-2", 身份证号=ID_ERROR, 联系电话=PHONES[2], 城乡类型="火星")
    with (
        open(xlsx(tmp_path, [bad], name="bad.xlsx"), "rb") as f,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(reverse("ledger-import"), {"file": f})
    failed_import = LedgerImport.objects.get(county=other, error_file__gt="")
    # Their upload of gas networks, one row wrong: its page and its error file name their company.
    bad_network = a_network(
        工程编号="YP-GW-NEW", 燃气企业="秘密燃气公司", 状态="完成",
        **{"县（市、区）": "原平市", "乡（镇、街道）": "北城街道"},
    )  # fmt: skip
    with (
        open(sheet(tmp_path, NETWORK, [bad_network], "networks.xlsx"), "rb") as f,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(reverse("supply-import", args=["networks"]), {"file": f})
    failed_supply_import = SupplyImport.objects.get(county=other, error_file__gt="")

    client.force_login(their_inspector)
    photo = SimpleUploadedFile("a.jpg", JPEG, content_type="image/jpeg")
    client.post(
        reverse("visit", args=[household.pk]),
        {
            "visited_at": "2023-10-20T10:00", "result": "failed", "check_model_matches": "on",
            "check_installed": "on", "check_wiring": "on", "defect_0": "室温不达标",
            "rectify_by_0": "2023-10-28", "photos": [photo],
            # In 太原: the visit is flagged (an integrity flag of 原平市 to open and review).
            "latitude": "37.870000", "longitude": "112.550000",
        },
    )  # fmt: skip
    project = Project.objects.create(
        county=other, kind=Project.Kind.BUILDING_TOWN, name="秘密小区改造", area_m2=1000
    )
    client.post(
        reverse("project-visit", args=[project.pk]),
        {"visited_at": "2023-10-25T10:00", "result": "failed", "efficiency_gain_pct": "10"},
    )
    assert Inspection.objects.filter(household=household).exists()
    assert Defect.objects.filter(inspection__household=household).exists()

    contract = GasContract.objects.filter(county=other).first()
    upgrade = GridUpgrade.objects.filter(county=other).first()
    network = GasNetwork.objects.filter(county=other).first()
    assert contract and upgrade and network
    GasContract.objects.filter(pk=contract.pk).update(supplier="秘密燃气公司")
    GridUpgrade.objects.filter(pk=upgrade.pk).update(code="YP-DW-MIMI")
    GasNetwork.objects.filter(pk=network.pk).update(code="YP-GW-MIMI")
    reserve = FuelReserve.objects.create(
        county=other, season=2023, fuel="clean_coal", households=10,
        contracted_t=30, stored_t=30, supplier="秘密煤业",
    )  # fmt: skip
    key_project = KeyProject.objects.create(
        name="秘密重点项目", county=other, responsible="某人", status="building", path="district"
    )
    key_project.counties.set([other])
    # A title a spreadsheet would run: every xlsx must write it as text.
    dispatch_round = round_open(
        plan_year=PlanYear.objects.get(year=2023), user=users["municipal"],
        due_at=timezone.now() + dt.timedelta(days=2), title=FORMULA,
    )  # fmt: skip
    report = dispatch_round.reports.get(county=other)
    report_save(report=report, user=their_official, problems="秘密调度问题", help_needed="",
                next_steps="按计划")  # fmt: skip
    report_step(report=report, user=their_official, step=ReportStep.Action.SUBMIT)
    # The bureau's spot check of their household (drawn here by hand: it is not yet accepted), so
    # that its second-visit form is there for their inspector, and for others to be refused.
    spot_check = SpotCheck.objects.create(
        county=other, seed="1", size=1, population=1, created_by=users["municipal"]
    )
    SpotCheckItem.objects.create(spot_check=spot_check, household=household, rank=1, weight=1)
    # Their county's 回头看 of their household (drawn here by hand: it is not yet accepted), with a
    # relapse found, its photo and a problem to fix.
    lookback = LookBack.objects.create(
        county=other, season=2023, seed="1", population=1, size=1, created_by=users["municipal"]
    )
    lookback_item = LookBackItem.objects.create(
        lookback=lookback, household=household, rank=1, weight=1, visited_at=timezone.now(),
        visited_by=their_inspector, equipment_in_use=False, coal_relapse=True,
        problems="秘密回头看问题", fix_by=dt.date(2024, 5, 1),
        photo=SimpleUploadedFile("coal.jpg", JPEG),
    )  # fmt: skip
    # Their 县级财政's batch at the bank: the household's equipment subsidy, to its 一卡通 account.
    their_finance = user_create(
        username="yp-cz", password=PASSWORD, role=Role.FINANCE, county=other
    )
    batch = _batch_at_the_bank(household, their_finance)
    # And an account of 忻府区's own, for 忻府区's 县级财政 alone.
    ours = a_household("XF-CZ-1", HeatingPath.ELECTRIC, equipment=tender[0], where="忻府区")
    accounts = book([["XF-CZ-1", ACCOUNT_OURS, "忻州农商银行", "测试", ""]])
    assert not bank_accounts_import(data=accounts, name="a.xlsx", user=users["finance"]).errors
    assert ours.bank_account.last4 == ACCOUNT_OURS[-4:]
    # Their official's export of their ledger, with the full numbers: for them alone.
    with django_capture_on_commit_callbacks(execute=True):
        export_job = export_start(
            kind="ledger", user=their_official, title="导出", params={}, total=1
        )
    return World(
        other=other, own=own, household=household, failed_import=failed_import,
        failed_supply_import=failed_supply_import,
        photo=InspectionPhoto.objects.filter(inspection__household=household).get(),
        project=project, key_project=key_project, reserve=reserve, contract=contract,
        upgrade=upgrade, network=network, users=users, dispatch_round=dispatch_round,
        report=CountyReport.objects.get(pk=report.pk),
        report_alert=Alert.objects.filter(user=their_official).earliest("pk"),
        export_job=export_job,
        flag=IntegrityFlag.objects.get(inspection__household=household),
        spot_check=spot_check,
        # An ID number their official gave that a household holds: the bureau's to resolve.
        id_conflict=IdConflict.objects.create(
            user=their_official, county=other, household=household, id_number=ID_NEW,
            code="YP-9", head_name=NAME, entry=IdConflict.Entry.FORM,
        ),
        # Their complaint ticket (工单), with the caller's phone and words.
        ticket=ticket_create(
            data=TicketInput(
                channel=Channel.HOTLINE, hotline_number="YP-12345-1", category=Category.FAULT,
                county=other, household=household, content="秘密工单诉求",
                received_at=timezone.now() - dt.timedelta(hours=1), caller_phone=PHONES[1],
            ),
            user=users["municipal"],
        ),
        lookback_item=lookback_item,
        batch=batch,
        indicator=_indicator(),
        pack=_pack(users["municipal"]),
        replayers=[users["administrator"], their_official, their_inspector, users["municipal"]],
    )  # fmt: skip


def _indicator() -> Indicator:
    indicators_load(plan_year=PlanYear.objects.get(year=2023))
    return Indicator.objects.get(plan_year_id=2023, code="first_pass")


def _pack(user: User) -> Pack:
    """The self-evaluation pack made of this world: its report, table and dossiers' PDF."""
    pack = Pack.objects.create(
        plan_year_id=2023, as_of=dt.date(2024, 4, 30), seed="抽样-1", sample_size=5, created_by=user
    )
    pack_make(pack_id=pack.pk)
    pack.refresh_from_db()
    assert pack.status == Pack.Status.DONE, pack.message
    return pack


def _batch_at_the_bank(household: Household, finance: User) -> Batch:
    """The household's equipment subsidy in a batch of its county, approved and sent to the bank
    (its roster and return page open), to its 一卡通 account."""
    policy = Policy.objects.create(
        plan_year_id=2023, path=household.path, kind=Kind.EQUIPMENT, method=Method.FIXED,
        amount=3000, cap=3000, city_share="0.5",
    )  # fmt: skip
    Entitlement.objects.create(
        household=household, county=household.county, kind=Kind.EQUIPMENT, season=2023,
        policy=policy, amount_fen=300000, city_fen=150000, county_fen=150000,
        computed_at=timezone.now(),
    )  # fmt: skip
    accounts = book([[household.code, ACCOUNT_THEIRS, "原平农商银行", household.head_name, ""]])
    assert not bank_accounts_import(data=accounts, name="a.xlsx", user=finance).errors
    batch = batch_create(county=household.county, season=2023)
    batch = batch_publicize(batch=batch, start=dt.date(2024, 4, 1))
    batch = batch_submit(batch=batch, today=dt.date(2024, 4, 30))
    return batch_approve(batch=batch, user=finance)


# -- the URLconf, walked -----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "admin:…" in the admin; the route itself when the pattern has no name
    pattern: str
    keys: tuple[str, ...]
    positional: bool = False


def routes() -> Iterator[Route]:
    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Route]:
        for p in patterns:
            if isinstance(p, URLResolver):
                inner = f"{namespace}:{p.namespace}" if namespace and p.namespace else p.namespace
                yield from walk(p.url_patterns, prefix + str(p.pattern), inner or namespace)
            elif isinstance(p, URLPattern):
                full = prefix + str(p.pattern)
                name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or full)
                regex = p.pattern.regex
                # simple-history's admin pattern has unnamed groups: the object and the version.
                keys = tuple(regex.groupindex) or ("object_id", "history_id")[: regex.groups]
                yield Route(name, full, keys, positional=not regex.groupindex and regex.groups > 0)

    yield from walk(get_resolver().url_patterns, "", "")


def admin_model(route: Route) -> type[models.Model] | None:
    """The model of an admin URL, by its name or (unnamed) its path."""
    for model in admin.site._registry:
        meta = model._meta
        if route.name.startswith(f"admin:{meta.app_label}_{meta.model_name}_"):
            return model
        if route.pattern.startswith(f"admin/{meta.app_label}/{meta.model_name}/"):
            return model
    return None


def in_other_county(model: type[models.Model], world: World) -> models.Model | None:
    """The other county's row of a model, or any row where the model has no county."""
    rows = model._default_manager.order_by("pk")
    lookup = county_lookup(model)
    if lookup:
        return rows.filter(**{lookup: world.other}).first()
    if model is User:
        return world.users["official"]
    return rows.first()


def urls(world: World) -> Iterator[tuple[Route, str, bool]]:
    """(route, url, whether the url names an object of the other county) for every pattern."""
    every = list(routes())  # first: the admin's models register with the URLs (heating/urls.py)
    admin_apps = sorted({m._meta.app_label for m in admin.site._registry})
    for route in every:
        keys = set(route.keys)
        if not keys:
            yield route, reverse_or_route(route, {}), False
            if (named := world.query_object(route.name)) is not None:
                query = f"?{BY_QUERY[route.name]}={named.pk}"
                yield route, reverse_or_route(route, {}) + query, True
            continue
        model = admin_model(route)
        if keys == {"app_label"}:
            for label in admin_apps:
                yield route, reverse(route.name, kwargs={"app_label": label}), False
        elif keys == {"url"} and route.pattern.startswith("admin/"):  # the admin's catch-all
            yield route, "/admin/no-such-page/", False
        elif keys == {"kind"}:
            for kind in KINDS:
                yield route, reverse(route.name, kwargs={"kind": kind}), False
        elif keys == {"year"}:
            yield route, reverse(route.name, kwargs={"year": 2023}), False
        elif keys == {"pk", "step"}:  # the steps of a report's sign-off
            for step in ReportStep.Action.values:
                on = {"pk": world.report.pk, "step": step}
                yield route, reverse(route.name, kwargs=on), True
        elif keys == {"kind", "pk"}:
            for kind in KINDS:
                obj = world.object_for(route.name, kind)
                assert obj is not None
                yield route, reverse(route.name, kwargs={"kind": kind, "pk": obj.pk}), True
        elif keys == {"pk"}:
            obj = world.object_for(route.name)
            assert obj is not None, (
                f"{route.name}: which object does its pk name? (add it to World)"
            )
            yield route, reverse_or_route(route, {"pk": obj.pk}), route.name not in CITY_WIDE
        elif keys == {"content_type_id", "object_id"}:
            ct = ContentType.objects.get_for_model(Household)
            site = {"content_type_id": ct.pk, "object_id": world.household.pk}
            yield route, reverse(route.name, kwargs=site), True
        elif model is not None and keys <= {"object_id", "history_id", "id"}:
            obj = in_other_county(model, world)
            if obj is None:
                continue  # nothing of the model to open; its list is walked
            kwargs: dict[str, Any] = {k: obj.pk for k in keys & {"object_id", "id"}}
            if "history_id" in keys:
                history = getattr(obj, "history", None)
                if history is None or not history.exists():
                    continue
                kwargs["history_id"] = history.first().history_id
            yield route, reverse_or_route(route, kwargs), hasattr(obj, "county_id")
        else:
            raise AssertionError(f"a URL this test cannot fill: {route.name} ({route.pattern})")


def reverse_or_route(route: Route, kwargs: dict[str, Any]) -> str:
    if route.positional:
        return reverse(route.name, args=[kwargs[k] for k in route.keys])
    if route.name != route.pattern:
        return reverse(route.name, kwargs=kwargs)
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), route.pattern)


# -- what a page's form would post -------------------------------------------------------------


class PostForms(HTMLParser):
    """The fields of each POST form of a page, as a browser would send them unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.files: list[list[str]] = []
        self._form: dict[str, Any] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        post = tag == "form" and a.get("method", "").lower() == "post"
        if post and "logout" not in a.get("action", ""):
            self._form = {}
            self.forms.append(self._form)
            self.files.append([])
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind == "file":
                self.files[-1].append(name)
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.setdefault(name, []).append(a.get("value", "on"))
            elif kind not in ("submit", "button", "image", "reset"):
                self._form[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self._form.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            self._form[self._select].append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self._form[name] = ""

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def replayed(url: str, world: World, tmp_path: Path) -> dict[str, Any]:
    """The largest POST form `url` shows to the first user who may use it (nothing if none)."""
    for user in world.replayers:
        client = Client()
        client.force_login(user)
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = PostForms()
        parser.feed(response.content.decode())
        if not parser.forms:
            continue
        index = max(range(len(parser.forms)), key=lambda i: len(parser.forms[i]))
        data = dict(parser.forms[index])
        for name in parser.files[index]:
            # Another county's ledger, as an upload attempt.
            row = yuanping_row(户编号="YP-9", 身份证号=ID_NEW)
            data[name] = open(xlsx(tmp_path, [row], name="attempt.xlsx"), "rb")  # noqa: SIM115
        return data
    return {}


# -- what an answer shows and what a request wrote ---------------------------------------------


def text_of(response: Any) -> str:
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    if body[:2] == b"PK":  # an xlsx: the words are in its XML parts
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            return "".join(
                book.read(n).decode("utf-8", "replace")
                for n in book.namelist()
                if n.endswith(".xml")
            )
    return body.decode("utf-8", "replace")


def is_xlsx(response: Any) -> bool:
    return "spreadsheetml" in response.get("Content-Type", "") or response.get(
        "Content-Disposition", ""
    ).endswith(".xlsx")


def secrets_for(role: str) -> list[str]:
    if role == "administrator":
        return []
    numbers = [ID_OLD, ID_NEW, ID_ERROR, *PHONES] + [n[6:14] for n in (ID_OLD, ID_NEW, ID_ERROR)]
    accounts = [ACCOUNT_THEIRS] + ([] if role == "finance" else [ACCOUNT_OURS])
    return numbers + accounts + (MARKERS if role in OWN_COUNTY_ROLES else [])


def guarded_models(role: str) -> list[type[models.Model]]:
    """The tables the role may not write to through any URL of the other county."""
    data = [
        m
        for label in (
            "heating",
            "retrofits",
            "energy_supply",
            "acceptance",
            "aftercare",
            "subsidies",
        )
        for m in apps.get_app_config(label).get_models()
        if str(m._meta.model_name) not in NOT_DATA
        and not str(m._meta.model_name).startswith(NOT_DATA_PREFIXES)
    ]
    if role == "municipal":  # keeps supply, plans and projects; never a household's file
        return [
            m
            for m in data
            if m.__name__.removeprefix("Historical")
            in {"Household", "LedgerImport", "Inspection", "Defect", "InspectionPhoto",
                "HeatingRemoval", "GasConnection", "BankAccount", "Batch", "BatchLine",
                "Entitlement"}
        ]  # fmt: skip
    return data


def county_lookup(model: type[models.Model]) -> str | None:
    names = {f.name for f in model._meta.get_fields()}
    for lookup in ("county", "household__county", "inspection__household__county"):
        if lookup.split("__")[0] in names:
            return lookup
    return None


def fingerprint(tables: list[type[models.Model]], own: County | None = None) -> dict[str, str]:
    """A digest of each table, leaving out the rows of `own` (the role's own county: writing
    there is its right, and tested elsewhere)."""
    prints = {}
    for model in tables:
        names = [f.attname for f in model._meta.concrete_fields if f.name not in VOLATILE_FIELDS]
        rows = model._default_manager.order_by("pk")
        lookup = county_lookup(model)
        if own is not None and lookup:
            rows = rows.exclude(**{lookup: own})
        rows = rows.values_list(*names)
        prints[model._meta.label] = hashlib.sha1(repr(list(rows)).encode()).hexdigest()
    return prints


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [label for label in before if before[label] != after[label]]


@pytest.mark.parametrize("role", ROLES)
def test_every_url_as_every_role_leaks_nothing(role: str, world: World, tmp_path: Path) -> None:
    client = Client()
    user = world.users.get(role)
    hidden = secrets_for(role)
    guarded = guarded_models(role)
    own = world.own if role in OWN_COUNTY_ROLES else None
    problems: list[str] = []
    walked = list(urls(world))
    assert len(walked) > 200  # the admin's patterns included

    def request(method: str, url: str, data: dict[str, Any] | None = None) -> Any:
        if user is not None:
            client.force_login(user)  # a POST to logout must not end the walk
        if method == "GET":
            return client.get(url)
        return client.post(url, data or {})

    # Deleting is an administrator's right; posting deletions last keeps the objects for the rest.
    walked.sort(key=lambda item: item[1].endswith("/delete/"))
    for route, url, of_other in walked:
        for method in ("GET", "POST"):
            if role == "administrator" and method == "POST" and url.endswith("/delete/"):
                continue
            data = replayed(url, world, tmp_path) if method == "POST" else {}
            writes = method == "POST" and role != "administrator"
            before = fingerprint(guarded, own) if writes else {}
            response = request(method, url, data)
            status = response.status_code
            where = f"{role} {method} {url} ({route.name}) → {status}"
            location = response.get("Location", "")
            if status >= 500:
                problems.append(f"{where}: server error")
            elif role == "anonymous" and route.name not in PUBLIC:
                if not refused(request, status, location):
                    problems.append(f"{where}: answered an anonymous visitor")
            elif role in OWN_COUNTY_ROLES and of_other and not refused(request, status, location):
                problems.append(f"{where}: another county's object answered")
            text = text_of(response)
            problems += [f"{where}: shows {secret}" for secret in hidden if secret in text]
            if is_xlsx(response) and "<f>" in text:
                problems.append(f"{where}: an xlsx cell is a formula")
            html = status == 200 and "html" in response.get("Content-Type", "")
            if html and (latin := latin_words(text, also=world.own_names)):
                problems.append(f"{where}: Latin words {sorted(latin)}")
            if before:
                after = fingerprint(guarded, own)
                problems += [f"{where}: wrote {t}" for t in changed(before, after)]
    assert problems == [], "\n".join(problems)


def refused(request: Any, status: int, location: str) -> bool:
    """A refusal, a redirect to a login page, or redirects that end in either."""
    for _ in range(3):
        if status in REFUSED or location.startswith(LOGIN_PAGES):
            return True
        if status not in (301, 302):
            return False
        response = request("GET", location)
        status, location = response.status_code, response.get("Location", "")
    return False


def test_the_walk_sees_a_leak_and_a_write(world: World, tmp_path: Path) -> None:
    """The checks above can fail: the other county's official sees the secrets the walk looks
    for, and a form replayed by them writes."""
    their_official = world.replayers[1]
    client = Client()
    client.force_login(their_official)
    page = text_of(client.get(reverse("household-detail", args=[world.household.pk])))
    assert ID_NEW in page and NAME in page and ID_OLD in page
    errors = text_of(client.get(reverse("ledger-import-errors", args=[world.failed_import.pk])))
    assert ID_ERROR in errors
    errors = text_of(
        client.get(reverse("supply-import-errors", args=[world.failed_supply_import.pk]))
    )
    assert "秘密燃气公司" in errors
    client.force_login(User.objects.get(username="yp-cz"))  # their 县级财政: the bank's roster
    roster = text_of(client.get(reverse("subsidy-batch-roster") + f"?batch={world.batch.pk}"))
    assert ACCOUNT_THEIRS in roster and ID_NEW in roster
    client.force_login(their_official)
    url = reverse("household-edit", args=[world.household.pk])
    data = replayed(url, world, tmp_path)
    data["notes"] = "改了"
    before = fingerprint(guarded_models("official"))
    assert client.post(url, data).status_code == 302
    assert "retrofits.Household" in changed(before, fingerprint(guarded_models("official")))
    assert PersonalDataAccess.objects.filter(user=their_official).exists()
    assert Township.objects.filter(pk=world.household.township_id, county=world.other).exists()
    assert HeatingRemoval.objects.count() >= 0 and GasConnection.objects.count() >= 0


# Numbers as a hostile or careless hand types them: a superscript digit ("²".isdigit() is true in
# Python), one too large for the database, a negative one, a decimal.
MALFORMED = ["²", "99999999999999999999", "-1", "1.5"]
# The query parameters the portal's pages read.
PARAMETERS = ["county", "township", "village", "year", "page", "path", "stage", "area", "q",
              "order", "start", "end", "kind", "all"]  # fmt: skip


def malformed(data: dict[str, Any], bad: str) -> dict[str, Any]:
    """A form's data with every value that is a number, or a choice, replaced by `bad`."""
    changed: dict[str, Any] = {}
    for name, value in data.items():
        if hasattr(value, "read") or name in ("csrfmiddlewaretoken",):
            changed[name] = value
        elif isinstance(value, list):
            changed[name] = [bad for _ in value] or [bad]
        else:
            changed[name] = bad if str(value).isdigit() or not value else value
    return changed


@pytest.mark.parametrize("role", ["official", "municipal"])
def test_malformed_numbers_anywhere_are_a_chinese_answer(
    role: str, world: World, tmp_path: Path
) -> None:
    """Every page's parameters and every form's numbers and choices, malformed: never a 500."""
    client = Client()
    client.force_login(world.users[role])
    problems = []
    for route, url, _ in urls(world):
        if route.name.startswith("admin:") or route.pattern.startswith("admin/"):
            continue
        for bad in MALFORMED:
            query = "&".join(f"{name}={bad}" for name in PARAMETERS)
            response = client.get(f"{url}?{query}")
            if response.status_code >= 500:
                problems.append(f"GET {url}?{query} → {response.status_code}")
            data = replayed(url, world, tmp_path)
            if data:
                response = client.post(url, malformed(data, bad))
                if response.status_code >= 500:
                    problems.append(f"POST {url} with {bad} → {response.status_code}")
            client.force_login(world.users[role])  # a POST to logout must not end the walk
    assert problems == [], "\n".join(problems)
