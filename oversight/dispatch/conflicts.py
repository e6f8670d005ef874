"""ID-number conflicts past a user's daily budget (retrofits/services/conflicts.py, which may not
import this floor: this floor registers with it) reach those who resolve conflicts, once per user
and day, with the user and the numbers as each of them may see them."""

from __future__ import annotations

from collections.abc import Sequence

from django.urls import reverse
from django.utils import timezone

from heating import access
from heating.access import Action
from heating.models import User
from oversight.dispatch.models import Alert
from oversight.dispatch.services.alerts import alert_send
from retrofits.models import IdConflict
from retrofits.services.conflicts import alarm_text


def id_conflict_alarm(user: User, logged: Sequence[IdConflict]) -> None:
    day = timezone.localdate()
    link = reverse("id-conflicts") + f"?state=all&user={user.pk}"
    for viewer in access.holders(Action.CONFLICTS):
        alert_send(
            [viewer], kind=Alert.Kind.ID_CONFLICT, text=alarm_text(user, logged, viewer),
            link=link, key=f"id-conflict:{user.pk}:{day:%Y%m%d}", county=user.county,
        )  # fmt: skip
