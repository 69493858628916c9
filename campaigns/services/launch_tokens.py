"""A launch plan's confirmation token: a signed, expiring statement of what the plan said, so a
launch through the API is always a deliberate second call, and launches only what was read.

The token carries the campaign's id and a digest of the plan's content (who will be called,
how, from which app and voice file); launching recomputes the plan under the campaign's lock
and refuses the token when anything changed or it expired (django.core.signing, SECRET_KEY).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext

from campaigns.services.campaign_plan import Plan

SALT = "campaigns.launch-plan"


class LaunchTokenError(Exception):
    """The token does not launch this campaign (expired, changed plan, another campaign)."""


def plan_snapshot(plan: Plan) -> dict[str, Any]:
    """What the plan said, as plain values: a change in any of them needs a new plan."""
    c = plan.campaign
    return {
        "campaign": c.pk,
        "state": c.state,
        "app": c.app.app_id,
        "voice_file": [c.voice_file_id, c.voice_file.remote_file_id],
        "display_num": c.display_num,
        "loop_count": c.loop_count,
        "max_duration": c.max_duration,
        "max_ringing_time": c.max_ringing_time,
        "called_info": c.called_info,
        "scheduled_start": c.scheduled_start.isoformat() if c.scheduled_start else None,
        "window": [str(c.window_start), str(c.window_end), c.window_tz],
        "local_window": [c.window_callee_local, c.fallback_zone, c.window_days, c.skip_dates],
        "rate": c.rate_per_minute,
        "cap": [c.frequency_cap_calls, c.frequency_cap_hours, c.cap_waits],
        "opt_out_key": c.opt_out_key,
        "callees": plan.callees,
        "requests": plan.requests,
        "preflight": plan.preflight.key_lines(),
    }


def _digest(plan: Plan) -> str:
    text = json.dumps(plan_snapshot(plan), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def launch_token_for(plan: Plan) -> str:
    return signing.dumps({"c": plan.campaign.pk, "p": _digest(plan)}, salt=SALT)


def launch_token_check(token: str, plan: Plan) -> None:
    """Raise LaunchTokenError unless `token` was made from this very plan and is not too old."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.API_LAUNCH_TOKEN_SECONDS)
    except signing.SignatureExpired:
        raise LaunchTokenError(
            gettext("The confirmation token has expired: read the plan again.")
        ) from None
    except signing.BadSignature:
        raise LaunchTokenError(gettext("The confirmation token is not valid.")) from None
    if not isinstance(data, dict) or data.get("c") != plan.campaign.pk:
        raise LaunchTokenError(gettext("The confirmation token is for another campaign."))
    if data.get("p") != _digest(plan):
        raise LaunchTokenError(
            gettext("The plan has changed since the token was given: read the plan again.")
        )
