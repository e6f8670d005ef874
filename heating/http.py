"""Small helpers every app's views share."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import is_ratelimited

from heating.models import PlanYear, User
from heating.selectors import current_plan_year

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def page_query(request: HttpRequest) -> str:
    """The list's query string without its page: what templates/_pager.html keeps."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# The largest id a row has here (PostgreSQL's integer; SQLite's is larger): past it a lookup fails
# in the database instead of finding nothing.
MAX_ID = 2**31 - 1


def parse_id(value: object) -> int | None:
    """An id as a query string or a form gives it: ASCII digits in range, else None. The one
    parser of ids for the whole portal: "²".isdigit() is true in Python, and int() of twenty
    nines overflows SQLite, each once a 500."""
    text = str(value if value is not None else "").strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def no_store_for_users(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware: every answer to a signed-in user may carry personal data or a county's
    ledger, so no browser or proxy keeps it (a response that set its own Cache-Control keeps it)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response

    return middleware


def request_user(request: HttpRequest) -> User:
    """The logged-in user of a view behind login_required."""
    assert isinstance(request.user, User)
    return request.user


def xlsx_response(data: bytes, filename: str) -> HttpResponse:
    """An xlsx download under a Chinese file name (RFC 5987, which every current browser reads)."""
    response = HttpResponse(data, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    """A query parameter that cannot be used: a Chinese page saying which and why (400)."""
    return render(request, "400.html", {"message": message}, status=400)


def plan_year_or_404(year: int | None = None) -> PlanYear:
    """The plan year asked for, or the current one: a Chinese 404 where there is none."""
    plan_year = PlanYear.objects.filter(year=year).first() if year else current_plan_year()
    if plan_year is None:
        raise Http404("没有该年度的计划" if year else "还没有计划年度")
    return plan_year


def plan_year_of(request: HttpRequest) -> PlanYear:
    """The plan year a page shows: its `?year=` (the year switch), else the current one. A year
    that is not a number is the current one; a number with no plan is a Chinese 404."""
    return plan_year_or_404(parse_id(request.GET.get("year")))


def search_throttled(request: HttpRequest) -> HttpResponse | None:
    """Each search (a `q` of the list or the worklist) counts against the user's searches per
    minute; past SEARCHES_PER_MINUTE, a Chinese 429 instead of results. Typing is well under it; a
    script trying numbers is not."""
    if not request.GET.get("q", "").strip():
        return None
    limited = is_ratelimited(
        request,
        group="search",
        key="user",
        rate=f"{settings.SEARCHES_PER_MINUTE}/m",
        increment=True,
    )
    if not limited:
        return None
    message = "搜索过于频繁，请稍候一分钟再试。"
    return render(request, "400.html", {"message": message}, status=429)
