"""Small helpers every app's views share."""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpRequest, HttpResponse

from heating.models import User

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def request_user(request: HttpRequest) -> User:
    """The logged-in user of a view behind login_required."""
    assert isinstance(request.user, User)
    return request.user


def xlsx_response(data: bytes, filename: str) -> HttpResponse:
    """An xlsx download under a Chinese file name (RFC 5987, which every current browser reads)."""
    response = HttpResponse(data, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response
