"""The evidence sample (佐证材料抽样): a seeded random sample of households, stratified by county
and heating path, and their 一户一档 dossiers as one printable A4 PDF for the on-site check.

The draw is reproducible: the same households and seed give the same sample on any database and
whatever order the rows come in, because each household's place in its stratum's draw is a hash
of the seed and its 户编号 (its key across databases; a row id differs between two loads of the same
ledger). The PDF is byte-for-byte the same for the same inputs (reportlab's invariant mode, fixed
document info, photos re-encoded by Pillow deterministically)."""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import io
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from html import escape
from typing import TYPE_CHECKING, Any, BinaryIO

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db.models import Count, Prefetch
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    Flowable,
    Image,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from acceptance.models import Defect, Inspection, InspectionPhoto
from aftercare.models import Ticket
from heating.access import mask_id_number, mask_phone
from heating.models import County, HeatingPath
from oversight.evaluation.completeness import end_of
from retrofits.models import Household
from subsidies.models import Entitlement, Status, yuan

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

    from retrofits.models.households import HouseholdQuerySet

# ---------------------------------------------------------------- the draw


def _key(seed: str, code: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{code}".encode()).digest()


def allocate(sizes: dict[Any, int], size: int) -> dict[Any, int]:
    """Proportional allocation of `size` over strata of `sizes` households (ordered keys), at
    least one per non-empty stratum, the rest by largest remainders (ties: the first stratum).
    Fewer places than strata: one each to the largest strata. Never more than a stratum holds."""
    strata = [k for k, n in sizes.items() if n > 0]
    total = sum(sizes[k] for k in strata)
    size = min(size, total)
    if size <= 0:
        return {}
    if size < len(strata):
        largest = sorted(strata, key=lambda k: -sizes[k])[:size]  # stable: ties keep the order
        return {k: 1 for k in strata if k in largest}
    # One each first, then the rest in proportion to what each has left, by largest remainders.
    given = dict.fromkeys(strata, 1)
    rest = size - len(strata)
    room = {k: sizes[k] - 1 for k in strata}
    left = sum(room.values())
    if rest and left:
        quota = {k: Fraction(rest * room[k], left) for k in strata}
        for k in strata:
            given[k] += int(quota[k])
        short = size - sum(given.values())
        by_remainder = sorted(strata, key=lambda k: -(quota[k] - int(quota[k])))
        for k in by_remainder[:short]:
            given[k] += 1
    return given


def draw_sample(households: HouseholdQuerySet, *, seed: str, size: int) -> list[int]:
    """`size` household ids drawn from `households`, stratified by county and heating path, in
    county order, path and code. Each stratum keeps the households whose hash of (seed, 户编号)
    is smallest: streamed, holding no more than the sample."""
    counted = (
        households.order_by()
        .values("county__order", "path")
        .annotate(n=Count("pk"))
        .order_by("county__order", "path")
    )
    sizes = {(r["county__order"], r["path"]): r["n"] for r in counted}
    wanted = allocate(sizes, size)
    # Per stratum, a heap of the smallest keys seen so far (negated: heapq keeps a min-heap).
    kept: dict[tuple[int, str], list[tuple[bytes, str, int]]] = {k: [] for k in wanted}
    rows = households.order_by().values_list("pk", "code", "county__order", "path")
    for pk, code, order, path in rows.iterator(chunk_size=5000):
        n = wanted.get((order, path))
        if not n:
            continue
        heap = kept[(order, path)]
        item = (bytes(255 - b for b in _key(seed, code)), code, pk)
        if len(heap) < n:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    chosen = [(order, path, code, pk) for (order, path), h in kept.items() for _, code, pk in h]
    return [pk for *_, pk in sorted(chosen)]


# ---------------------------------------------------------------- the PDF

FONT = "STSong-Light"
CHUNK = 50  # households queried (and their flowables held) at a time
PHOTOS_PER_VISIT = 4
THUMB_PX = (320, 240)  # a thumbnail's largest size (200 dpi at 40 × 30 mm), re-encoded
THUMB_MM = (40, 30)


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=8),
        "h1": ParagraphStyle("h1", parent=base, fontSize=13, leading=17, spaceAfter=4),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=10.5, leading=14, spaceBefore=6, spaceAfter=3
        ),
        "muted": ParagraphStyle("muted", parent=base, textColor=colors.grey),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _day(value: dt.date | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "—"


def _grid(rows: list[list[Any]], widths: list[float], header: bool = True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")))
    table.setStyle(TableStyle(style))
    return table


def _thumbnail(photo: InspectionPhoto, s: dict[str, ParagraphStyle]) -> Flowable:
    """The photo, small; a note instead where its file is gone or unreadable."""
    name = photo.image.name or ""
    try:
        with default_storage.open(name, "rb") as stored, PILImage.open(stored) as opened:
            opened.draft("RGB", THUMB_PX)  # a JPEG decodes at a fraction of its size
            # Upright as the phone held it; copies, which outlive the file.
            picture = ImageOps.exif_transpose(opened).convert("RGB")
        picture.thumbnail(THUMB_PX)
    except (
        OSError,
        ValueError,
        SuspiciousFileOperation,
        UnidentifiedImageError,
        PILImage.DecompressionBombError,
    ):
        return _p(f"照片文件缺失或无法读取（{name.rsplit('/', 1)[-1]}）", s["muted"])
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=75)
    out.seek(0)
    width, height = picture.size
    scale = min(THUMB_MM[0] * mm / width, THUMB_MM[1] * mm / height)
    return Image(out, width=width * scale, height=height * scale)


def _households(ids: list[int], as_of: dt.date) -> Iterator[Household]:
    end = end_of(as_of)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        visits = (
            Inspection.objects.filter(visited_at__lt=end)
            .select_related("inspector")
            .prefetch_related(Prefetch("photos", queryset=InspectionPhoto.objects.order_by("pk")))
            .order_by("visited_at", "pk")
        )
        defects = (
            Defect.objects.filter(inspection__visited_at__lt=end)
            .select_related("inspection", "closed_by")
            .order_by("inspection__visited_at", "pk")
        )
        tickets = Ticket.objects.filter(received_at__lt=end).order_by("received_at", "pk")
        found = (
            Household.objects.filter(pk__in=chunk)
            .select_related(
                "county", "township", "village", "equipment", "plan_year", "heating_removal"
            )
            .prefetch_related(Prefetch("inspections", queryset=visits))
            .prefetch_related(Prefetch("defects", queryset=defects))
            .prefetch_related(
                Prefetch(
                    "entitlements",
                    queryset=Entitlement.objects.order_by("season", "kind", "top_up"),
                )
            )
            .prefetch_related(Prefetch("tickets", queryset=tickets))
        )
        by_pk = {h.pk: h for h in found}
        for pk in chunk:
            if pk in by_pk:
                yield by_pk[pk]


def _dossier(h: Household, as_of: dt.date, s: dict[str, ParagraphStyle]) -> list[Flowable]:
    end = end_of(as_of)
    base = s["base"]
    story: list[Flowable] = [
        _p(f"一户一档：{h.code}", s["h1"]),
        _p(f"{h.county.short_name} {h.township.name} {h.village.name}", base),
        Spacer(1, 3 * mm),
    ]
    equipment = f"{h.equipment.model}（{h.equipment.vendor}）" if h.equipment else "—"
    fields = [
        ("户编号", h.code),
        ("户主", h.head_name),
        ("身份证号", mask_id_number(h.id_number)),
        ("联系电话", mask_phone(h.phone) if h.phone else "—"),
        ("城乡类型", h.get_area_display()),
        ("取暖路径", h.get_path_display()),
        ("设备（型号、中标企业）", equipment),
        ("实施进度", h.get_stage_display()),
        ("完工日期", _day(h.completed_on)),
        ("验收日期", _day(h.accepted_on)),
        ("任务年度", f"{h.plan_year.year}年度"),
    ]
    removal = getattr(h, "heating_removal", None)
    removed = removal.removed_on if removal and removal.removed_on <= as_of else None
    fields.append(("原取暖设施拆除日期", _day(removed) if removed else "未拆除"))
    story.append(
        _grid([[_p(k, base), _p(v, base)] for k, v in fields], [45 * mm, 125 * mm], header=False)
    )

    story.append(_p("验收记录", s["h2"]))
    visits = list(h.inspections.all())
    for visit in visits:
        place = (
            f"{visit.latitude}, {visit.longitude}"
            if visit.latitude is not None and visit.longitude is not None
            else "无定位"
        )
        story.append(
            _grid(
                [
                    [_p(t, base) for t in ("验收时间", "验收人", "类别", "结果", "定位")],
                    [
                        _p(f"{timezone.localtime(visit.visited_at):%Y-%m-%d %H:%M}", base),
                        _p(visit.inspector, base),
                        _p(visit.get_kind_display(), base),
                        _p(visit.get_result_display(), base),
                        _p(place, base),
                    ],
                ],
                [35 * mm, 40 * mm, 25 * mm, 20 * mm, 50 * mm],
            )
        )
        photos = list(visit.photos.all())
        if photos:
            cells: list[Any] = [_thumbnail(p, s) for p in photos[:PHOTOS_PER_VISIT]]
            cells += [""] * (PHOTOS_PER_VISIT - len(cells))
            strip = Table([cells], colWidths=[42.5 * mm] * PHOTOS_PER_VISIT)
            strip.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story.append(strip)
            if len(photos) > PHOTOS_PER_VISIT:
                story.append(_p(f"另有{len(photos) - PHOTOS_PER_VISIT}张照片未列出", s["muted"]))
        else:
            story.append(_p("无照片", s["muted"]))
        story.append(Spacer(1, 2 * mm))
    if not visits:
        story.append(_p("截至该日无验收记录", s["muted"]))

    story.append(_p("整改问题", s["h2"]))
    defects = list(h.defects.all())
    if defects:
        rows: list[list[Any]] = [
            [_p(t, base) for t in ("问题", "发现日期", "整改期限", "整改情况")]
        ]
        for d in defects:
            closed = d.closed_by is not None and d.closed_by.visited_at < end
            rows.append(
                [
                    _p(d.description, base),
                    _p(_day(timezone.localtime(d.inspection.visited_at).date()), base),
                    _p(_day(d.rectify_by), base),
                    _p(
                        f"已整改（{timezone.localtime(d.closed_by.visited_at):%Y-%m-%d}复验合格）"
                        if closed and d.closed_by
                        else "未整改",
                        base,
                    ),
                ]
            )
        story.append(_grid(rows, [75 * mm, 25 * mm, 25 * mm, 45 * mm]))
    else:
        story.append(_p("无", s["muted"]))

    story.append(_p("补贴", s["h2"]))
    entitlements = list(h.entitlements.all())
    if entitlements:
        rows = [[_p(t, base) for t in ("补贴项目", "年度（采暖季）", "金额（元）", "状态")]]
        for e in entitlements:
            paid = e.status == Status.PAID and e.paid_on is not None and e.paid_on <= as_of
            amount: Decimal = yuan(e.amount_fen)
            rows.append(
                [
                    _p(e.label, base),
                    _p(e.season, base),
                    _p(f"{amount:,.2f}", base),
                    _p(f"已发放（{_day(e.paid_on)}）" if paid else "待发放", base),
                ]
            )
        story.append(_grid(rows, [45 * mm, 35 * mm, 35 * mm, 55 * mm]))
    else:
        story.append(_p("无", s["muted"]))

    story.append(_p("工单", s["h2"]))
    tickets = list(h.tickets.all())
    if tickets:
        rows = [[_p(t, base) for t in ("受理时间", "工单编号", "诉求类别", "状态")]]
        for t in tickets:
            rows.append(
                [
                    _p(f"{timezone.localtime(t.received_at):%Y-%m-%d %H:%M}", base),
                    _p(t.number, base),
                    _p(t.get_category_display(), base),
                    _p(t.get_state_display(), base),
                ]
            )
        story.append(_grid(rows, [40 * mm, 45 * mm, 45 * mm, 40 * mm]))
    else:
        story.append(_p("无", s["muted"]))
    return story


def _index(household_ids: list[int], s: dict[str, ParagraphStyle]) -> Table:
    """The list of the sample, in the order of the dossiers that follow."""
    found = {
        pk: row
        for pk, *row in Household.objects.filter(pk__in=household_ids).values_list(
            "pk", "county__short_name", "township__name", "path", "code"
        )
    }
    paths = dict(HeatingPath.choices)
    rows = [
        [_p(t, s["base"]) for t in ("序号", "县（市、区）", "乡（镇、街道）", "取暖路径", "户编号")]
    ]
    for n, pk in enumerate((pk for pk in household_ids if pk in found), start=1):
        county, township, path, code = found[pk]
        rows.append([_p(v, s["base"]) for v in (n, county, township, paths.get(path, path), code)])
    return _grid(rows, [14 * mm, 32 * mm, 50 * mm, 32 * mm, 42 * mm])


class _Feed(list[Flowable]):
    """The story, filled a chunk of households at a time as platypus consumes it (it asks the
    length before each flowable): only a chunk's rows and thumbnails are held at once."""

    def __init__(self, parts: Iterator[list[Flowable]]) -> None:
        super().__init__()
        self.parts = parts

    def __len__(self) -> int:
        while super().__len__() < 2:
            part = next(self.parts, None)
            if part is None:
                break
            self.extend(part)
        return super().__len__()


def write_evidence_pdf(
    household_ids: list[int],
    *,
    as_of: dt.date,
    title: str,
    out: BinaryIO,
    compress: bool = True,
) -> None:
    """The dossiers of `household_ids`, in that order, each from a new page, as they stood at
    the end of `as_of`; ID card and phone numbers masked. `compress=False` leaves the page
    content readable (the tests search it)."""
    _register_font()
    s = _styles()
    counties = County.objects.filter(households__pk__in=household_ids).distinct().count()

    def parts() -> Iterator[list[Flowable]]:
        yield [
            _p(title, s["title"]),
            _p(f"截至{as_of:%Y年%m月%d日}", s["base"]),
            _p(f"共{len(household_ids)}户，涉及{counties}个县（市、区）", s["base"]),
            _p("身份证号、联系电话已作脱敏处理。", s["muted"]),
            Spacer(1, 4 * mm),
            _index(household_ids, s),
        ]
        for household in _households(household_ids, as_of):
            yield [PageBreak(), *_dossier(household, as_of, s)]

    def footer(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(doc.leftMargin, 10 * mm, title)
        canvas.drawRightString(A4[0] - doc.rightMargin, 10 * mm, f"第{doc.page}页")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=title,
        author="忻州市清洁取暖改造台账平台",
        subject=f"一户一档抽样，截至{as_of:%Y-%m-%d}",
        creator="忻州市清洁取暖改造台账平台",
        invariant=1,
        pageCompression=1 if compress else 0,
    )
    doc.build(_Feed(parts()), onFirstPage=footer, onLaterPages=footer)
