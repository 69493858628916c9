"""The SIP-phone endpoints: /voice/sipAdd (phone groups) and /voice/sendSip (a call from one of
their phones), each handler with its parameter schema. Their records are in voice_endpoints."""

from __future__ import annotations

from .calls import TYPE_SIP
from .entities import SipGroup
from .handler import (
    REJECTED_REASON,
    BusinessError,
    Ctx,
    Reply,
    is_rejected,
    ok,
    require_balance,
    voice_app,
)
from .validation import (
    INT,
    STRING,
    Field,
    ParamError,
    Schema,
    digits,
    int_range,
    length,
)
from .voice_endpoints import DISPLAY_NUM

SEND_SIP = Schema(  # §3.4
    (
        Field("callee", STRING, check=digits(7, 15)),
        DISPLAY_NUM,
        # A phone account sipAdd created, e.g. test_001: phoneName (3-32) + "_" + 3 digits.
        Field("account", STRING, check=length(1, 64)),
        Field("appId", STRING),
    )
)

SIP_ADD = Schema(  # §3.9, seed 004
    (
        Field("groupName", STRING, check=length(4, 32)),
        # The table says 4-32, but seed 004's own sample body sends "sip" (3): accept 3-32.
        Field("phoneName", STRING, check=length(3, 32)),
        Field("quantity", INT, check=int_range(1, 50)),
        Field("displayNum", STRING, check=digits(7, 13)),
        Field("appId", STRING),
    )
)


def send_sip(ctx: Ctx) -> Reply:
    """POST /voice/sendSip (§3.4): a call from a phone account sipAdd created; data = voiceId.

    The account must be one of the app's phones (``{phoneName}_{NNN}``), otherwise -22. The
    record's phoneName is the group's phoneName (the name sipAdd was given), an assumption:
    §3.7 does not say whether it is that or the account.
    """
    v, state = ctx.values, ctx.state
    app = voice_app(ctx, v["appId"])
    group = state.sip_group_of(app.app_id, v["account"])
    if group is None:
        raise ParamError(f"account {v['account']!r} is not a phone of app {app.app_id}")
    require_balance(ctx)
    if is_rejected(v["callee"]):
        raise ParamError(f"{REJECTED_REASON}: callee {v['callee']}")
    call = state.create_call(
        app=app,
        call_type=TYPE_SIP,
        callee=v["callee"],
        display_num=v.get("displayNum", group.display_num),
        voice_file_id="",
        called_info="",
        max_duration=None,
        max_ringing_time=None,
        request_seq=ctx.record.seq,
        sip_group=group,
        account=v["account"],
    )
    ctx.accepted.append((call.voice_id, call.callee))
    return ok(call.voice_id)


def sip_add(ctx: Ctx) -> Reply:
    """POST /voice/sipAdd (§3.9, seed 004): names unique per app (-20), phone quota (-23)."""
    v, state = ctx.values, ctx.state
    app = voice_app(ctx, v["appId"])
    groups = [g for g in state.sip_groups if g.app_id == app.app_id]
    if any(g.group_name == v["groupName"] for g in groups):
        raise BusinessError("-20", f"data already exists: groupName {v['groupName']!r}")
    if any(g.phone_name == v["phoneName"] for g in groups):
        raise BusinessError("-20", f"data already exists: phoneName {v['phoneName']!r}")
    used = sum(g.quantity for g in groups)
    if used + v["quantity"] > state.phone_quota:
        raise BusinessError(
            "-23",
            f"data limit reached: app {app.app_id} has {used} of {state.phone_quota} phones",
        )
    phones = [f"{v['phoneName']}_{i:03d}" for i in range(1, v["quantity"] + 1)]
    state.sip_groups.append(
        SipGroup(
            app.app_id,
            v["groupName"],
            v["phoneName"],
            v["quantity"],
            v["displayNum"],
            phones,
            state.now(),
        )
    )
    return ok(None)
