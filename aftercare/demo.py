"""The demo city's tickets (工单): complaints and faults of the 2023 season through the services, of
every category and state: most signed for and closed in time and called back satisfied, some
reopened, some returned and reassigned, one extension here and there, some breached and escalated
(督办), a few reopened three times, 未立先破 complaints checked against the removal records, and the
last days' tickets still open. Each ticket is drawn from the seed and its number alone.

先立后破 stays consistent with the acceptance demo: a household accepted before the season (its
stove may go from 1 April) gets no fault left open beyond its limit, so the removals that demo
draws on a later day are not held back; the faults that break a season go to households accepted
later or not yet accepted.

After the season (from a week after 3/31) the bureau's 回头看 of the city: one village per township,
three households in each, most visited, a few found back on loose coal (with a photo).

Running it again writes nothing: once the demo's tickets exist they are left as they are (a later
--as-of does not continue their story), and the 回头看 is drawn once."""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image

from aftercare import services
from aftercare.limits import LIMITS
from aftercare.models import Category, Channel, LookBack, Satisfaction, Ticket
from aftercare.seasons import season_dates
from aftercare.selectors import STABILITY_CATEGORIES
from aftercare.services.lookbacks import Finding, lookback_draw, lookback_record
from heating.models import County, Role, User, Village
from heating.services import user_create
from retrofits.choices import Stage
from retrofits.demo import DemoCity
from retrofits.models import Household

SHANGHAI = ZoneInfo("Asia/Shanghai")
TICKETS = 160  # at full scale; at least MINIMUM at any scale
MINIMUM = 48
CATEGORY_WEIGHTS: dict[str, int] = {
    Category.COLD: 30, Category.FAULT: 25, Category.VOLTAGE: 12, Category.GAS_SAFETY: 5,
    Category.SUBSIDY: 12, Category.EARLY_REMOVAL: 4, Category.PRICE: 7, Category.OTHER: 5,
}  # fmt: skip
CHANNEL_WEIGHTS: dict[str, int] = {
    Channel.HOTLINE: 60, Channel.PHONE: 15, Channel.VISIT: 8, Channel.ONLINE: 8,
    Channel.MEDIA: 3, Channel.PATROL: 6,
}  # fmt: skip
CONTENT: dict[str, str] = {
    Category.COLD: "室内温度只有十二三度，家里老人受不了",
    Category.FAULT: "空气源热泵外机报故障代码，不能启动",
    Category.VOLTAGE: "晚上用电高峰总闸跳闸，热泵停机",
    Category.GAS_SAFETY: "厨房有燃气味，报警器响",
    Category.SUBSIDY: "去年的运行补贴还没有到账",
    Category.EARLY_REMOVAL: "新设备还没用一个冬天，村里就把火炕拆了",
    Category.PRICE: "电价比说好的高，取暖费负担重",
    Category.OTHER: "咨询明年还能不能报名改造",
}
# Outcomes and their weights: how each ticket's story goes.
OUTCOMES: dict[str, int] = {
    "in_time": 62, "reopened": 8, "returned": 6, "extended": 6, "breached": 10,
    "three_reopenings": 2, "unsatisfied_open": 2, "open": 4,
}  # fmt: skip


def _person(username: str, name: str, role: Role, county: County | None) -> User:
    return user_create(
        username=username, password=None, role=role, full_name=name, county=county,
        counties=[county] if county else None, exist_ok=True,
    )  # fmt: skip


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def tickets_after_households(city: DemoCity) -> None:
    first_day, _ = season_dates(city.plan_year.year)
    start = first_day - dt.timedelta(days=45)  # the works' last weeks: subsidies, prices
    if city.as_of < start + dt.timedelta(days=3):
        return
    bureau = _person("demo-shi", "市能源局调度（演示）", Role.MUNICIPAL, None)
    if not Ticket.objects.filter(created_by=bureau).exists():
        _tickets(city, bureau, start=start, first_day=first_day)
    _lookback(city, bureau)


def _tickets(city: DemoCity, bureau: User, *, start: dt.date, first_day: dt.date) -> None:
    counties = list(County.objects.order_by("pk"))
    officials = {
        c.pk: _person(
            f"demo-xian-{c.order:02d}", f"{c.short_name}清洁取暖办（演示）", Role.COUNTY, c
        )
        for c in counties
    }
    households = list(
        Household.objects.filter(
            stage__in=[Stage.COMPLETED, Stage.ACCEPTED], completed_on__lte=start
        )
        .order_by("pk")
        .values_list("pk", "county_id", "accepted_on")
    )
    if not households:
        return
    # Those whose stove the acceptance demo may remove: no fault of theirs breaks the season.
    removable = {pk for pk, _, accepted_on in households if accepted_on and accepted_on < first_day}
    end = dt.datetime.combine(city.as_of, dt.time(18), tzinfo=SHANGHAI)
    count = max(MINIMUM, round(TICKETS * city.scale))
    made = 0
    with transaction.atomic():
        categories, outcomes = list(CATEGORY_WEIGHTS), list(OUTCOMES)
        others = [h for h in households if h[0] not in removable] or households
        for n in range(1, count + 1):
            rng = random.Random(f"{city.seed}:ticket:{n}")
            # The first tickets tell every category and every story once; the rest are drawn.
            category = categories[n - 1] if n <= len(categories) else _pick(rng, CATEGORY_WEIGHTS)
            outcome = (
                outcomes[(n - 1) % len(outcomes)]
                if n <= 2 * len(outcomes)
                else _pick(rng, OUTCOMES)
            )
            breaks = category in STABILITY_CATEGORIES and outcome != "in_time"
            pk, county_id, _ = (others if breaks else households)[
                rng.randrange(len(others if breaks else households))
            ]
            days = max((city.as_of - start).days, 1)
            received = dt.datetime.combine(
                start + dt.timedelta(days=rng.randrange(days)),
                dt.time(8 + rng.randrange(10), rng.randrange(60)), tzinfo=SHANGHAI,
            )  # fmt: skip
            if outcome in ("open", "unsatisfied_open"):
                received = end - dt.timedelta(hours=4 + rng.randrange(60))  # the last days'
            elif received > end - dt.timedelta(days=20):
                received -= dt.timedelta(days=20)  # room for the story before the day told
            received = max(received, dt.datetime.combine(start, dt.time(9), tzinfo=SHANGHAI))
            if received > end:
                continue
            try:
                _story(
                    rng, n=n, household=pk, county_id=county_id, category=category,
                    outcome=outcome, received=received, end=end, bureau=bureau,
                    official=officials[county_id], counties=counties, officials=officials,
                )  # fmt: skip
            except ValidationError:
                continue  # a step the day told does not allow yet: the ticket stops where it is
            made += 1
        services.tickets_escalate_breached(now=end)
    escalated = Ticket.objects.filter(created_by=bureau, escalated_at__isnull=False).count()
    city.say(f"工单：{made:,} 件（督办 {escalated:,} 件）")


# 回头看 after the season: the share of drawn households visited by the day told, and of those
# visited the share found back on loose coal (散煤复烧) and with a problem to fix.
VISITED = 0.8
RELAPSED = 0.04
PROBLEMS = 0.12


def _photo() -> SimpleUploadedFile:
    """A small JPEG standing for the inspector's photo of the coal stove."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 80, 70)).save(out, "JPEG")
    return SimpleUploadedFile("coal.jpg", out.getvalue(), content_type="image/jpeg")


def _lookback(city: DemoCity, bureau: User) -> None:
    season = city.plan_year.year
    _, last = season_dates(season)
    if (
        city.as_of <= last + dt.timedelta(days=7)
        or LookBack.objects.filter(created_by=bureau).exists()
    ):
        return
    try:
        lookback = lookback_draw(
            user=bureau, season=season, seed=f"{city.seed}:回头看", villages_per_township=1,
            households_per_village=3,
        )  # fmt: skip
    except ValidationError:
        return
    inspectors = {
        c.pk: _person(
            f"demo-yanshou-{c.order:02d}", f"{c.short_name}验收组（演示）", Role.INSPECTOR, c
        )
        for c in County.objects.all()
    }
    days = (city.as_of - last).days - 7
    found = relapsed = 0
    for item in lookback.items.select_related("household").order_by("rank"):
        rng = random.Random(f"{city.seed}:回头看:{item.household_id}")
        if rng.random() >= VISITED:
            continue
        on = last + dt.timedelta(days=7 + rng.randrange(max(days, 1)))
        relapse, problem = rng.random() < RELAPSED, rng.random() < PROBLEMS
        lookback_record(
            item=item, user=inspectors[item.household.county_id],
            now=dt.datetime.combine(on, dt.time(10), tzinfo=SHANGHAI),
            finding=Finding(
                equipment_in_use=not relapse, coal_relapse=relapse,
                photo=_photo() if relapse else None,
                indoor_temp=Decimal(str(round(rng.uniform(13, 17) if relapse else rng.uniform(16, 22), 1))),
                satisfaction=(Satisfaction.BASIC if relapse or problem else Satisfaction.SATISFIED),
                problems="设备停用，家中复烧散煤" if relapse else "室温偏低，需调整运行参数" if problem else "",
                fix_by=on + dt.timedelta(days=15) if relapse or problem else None,
            ),
        )  # fmt: skip
        found += 1
        relapsed += relapse
    city.say(f"回头看：抽取 {lookback.size:,} 户，已核查 {found:,} 户，散煤复烧 {relapsed:,} 户")


def _story(
    rng: random.Random, *, n: int, household: int, county_id: int, category: str, outcome: str,
    received: dt.datetime, end: dt.datetime, bureau: User, official: User,
    counties: list[County], officials: dict[int, User],
) -> None:  # fmt: skip
    channel = _pick(rng, CHANNEL_WEIGHTS)
    number = f"{received:%Y%m%d}{n:05d}" if channel == Channel.HOTLINE else ""
    target = Household.objects.select_related("village__township").get(pk=household)
    first_county: County = target.county
    first_household: Household | None = target
    village: Village | None = None
    if outcome == "returned":
        # Sent first to a neighbouring county, with a village of its own: returned, reassigned.
        first_county = next(c for c in counties if c.pk != county_id)
        village = Village.objects.filter(township__county=first_county).order_by("pk").first()
        first_household = None
    ticket = services.ticket_create(
        data=services.TicketInput(
            channel=channel, hotline_number=number, category=category, county=first_county,
            household=first_household, village=village, content=CONTENT[category],
            received_at=received, caller_name=f"{target.head_name[0]}先生",
        ),
        user=bureau,
    )  # fmt: skip
    hour = dt.timedelta(hours=1)
    limit = LIMITS[category]
    quick = (
        hour * (1 + rng.randrange(6)) if limit.hours else dt.timedelta(hours=2 + rng.randrange(20))
    )
    at = received + quick

    def step(moment: dt.datetime) -> bool:
        return moment <= end

    if outcome == "returned":
        if not step(at):
            return
        ticket = services.ticket_return(
            ticket=ticket,
            user=officials[first_county.pk],
            reason="经核实不属本县，地址在邻县",
            now=at,
        )
        at += hour * 3
        if not step(at):
            return
        ticket = services.ticket_reassign(
            ticket=ticket, user=bureau, county=target.county, household=target, now=at
        )
        at += quick
    if outcome == "open" or not step(at):
        return
    late = outcome == "breached"
    if late and rng.random() < 0.4:
        at = ticket.accept_due + hour * (2 + rng.randrange(20))  # signed for late
        if not step(at):
            return
    ticket = services.ticket_accept(ticket=ticket, user=official, now=at)
    if outcome == "extended":
        at += hour * 5
        if step(at) and at < ticket.close_due:
            ticket = services.ticket_extend(
                ticket=ticket, user=official, reason="等待厂家配件到货", now=at
            )
    rounds = 3 if outcome == "three_reopenings" else 1 + (outcome == "reopened")
    for index in range(rounds):
        if late:
            at = ticket.close_due + hour * (4 + rng.randrange(48))
        else:
            at = max(at, ticket.clock_from) + (ticket.close_due - ticket.clock_from) * rng.uniform(
                0.2, 0.7
            )
        if not step(at):
            return
        ticket = services.ticket_close(
            ticket=ticket, user=official, resolution="已上门检修，设备恢复正常运行", now=at
        )
        at += hour * (20 + rng.randrange(30))
        if not step(at):
            return
        unsatisfied = index < rounds - 1 or outcome in ("three_reopenings", "unsatisfied_open")
        satisfaction = (
            Satisfaction.UNSATISFIED if unsatisfied
            else Satisfaction.SATISFIED if rng.random() < 0.75 else Satisfaction.BASIC
        )  # fmt: skip
        ticket = services.ticket_callback(
            ticket=ticket, user=bureau, satisfaction=satisfaction, now=at
        )
        if outcome == "unsatisfied_open":
            return
