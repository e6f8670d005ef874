from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from oversight.dispatch.models import Alert


def unread_alerts(request: HttpRequest) -> dict[str, Any]:
    """The unread count beside 消息 in the top bar (one indexed count per page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_alerts": Alert.objects.filter(user=user, read_at=None).count()}
