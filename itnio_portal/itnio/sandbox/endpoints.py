"""The route table: every ITNIO endpoint the sandbox serves with its handler and schema, and the
matcher the server dispatches requests with."""

from __future__ import annotations

from .ai_endpoints import (
    CHANNEL_LIST,
    IMPORT_CUSTOMER,
    IMPORT_CUSTOMER_DEL,
    RECORD_QUERY,
    TASK_ADD,
    TASK_EDIT,
    TASK_LIST,
    TASK_NO_CALL,
    TASK_START,
    channel_list,
    import_customer,
    import_customer_del,
    record_query,
    task_add,
    task_edit,
    task_list,
    task_no_call,
    task_start,
)
from .handler import Route
from .sip_endpoints import SEND_SIP, SIP_ADD, send_sip, sip_add
from .voice_endpoints import (
    FILE_UPLOAD,
    RECORD_GROUP_QUERY,
    RECORD_SIP_QUERY,
    SEND_CODE,
    SEND_GROUP,
    file_upload,
    get_balance,
    record_group,
    record_group_query,
    record_sip,
    record_sip_query,
    send_code,
    send_group,
)

# ---- the route table ----------------------------------------------------------------------------
# To add an endpoint: write a Schema (types as the vendor table says) and a handler(ctx) -> Reply
# that raises ParamError / BusinessError for refusals, then add one Route here. The family
# (voice or aivoice codes) follows from the path; send=True marks a money-spending POST.

ROUTES: tuple[Route, ...] = (
    Route("POST", "/voice/fileUpload", file_upload, FILE_UPLOAD, send=True),
    Route("POST", "/voice/sendCode", send_code, SEND_CODE, send=True),
    Route("POST", "/voice/sendGroup", send_group, SEND_GROUP, send=True),
    Route("GET", "/voice/recordGroup/{voiceId}", record_group),
    Route("POST", "/voice/recordGroupQuery", record_group_query, RECORD_GROUP_QUERY),
    Route("POST", "/voice/sipAdd", sip_add, SIP_ADD, send=True),
    Route("POST", "/voice/sendSip", send_sip, SEND_SIP, send=True),
    Route("GET", "/voice/recordSip/{voiceId}", record_sip),
    Route("POST", "/voice/recordSipQuery", record_sip_query, RECORD_SIP_QUERY),
    Route("GET", "/sms/getBalance", get_balance),
    Route("POST", "/aivoice/taskAdd", task_add, TASK_ADD, send=True),
    Route("POST", "/aivoice/taskEdit", task_edit, TASK_EDIT, send=True),
    Route("POST", "/aivoice/taskStart", task_start, TASK_START, send=True),
    Route("POST", "/aivoice/taskList", task_list, TASK_LIST),
    Route("POST", "/aivoice/importCustomer", import_customer, IMPORT_CUSTOMER, send=True),
    Route(
        "POST", "/aivoice/importCustomer/del", import_customer_del, IMPORT_CUSTOMER_DEL, send=True
    ),
    Route("POST", "/aivoice/taskNoCall", task_no_call, TASK_NO_CALL),
    Route("POST", "/aivoice/recordQuery", record_query, RECORD_QUERY),
    Route("POST", "/aivoice/channelList", channel_list, CHANNEL_LIST),
)

# The money-spending POSTs; a new route joins by passing send=True.
SEND_PATHS = frozenset(route.template for route in ROUTES if route.send)

_COMPILED = [(route, route.pattern) for route in ROUTES]


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
    """(route, path params, allowed methods for the path when the method does not match)."""
    allowed: list[str] = []
    for route, pattern in _COMPILED:
        found = pattern.fullmatch(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict(), []
        allowed.append(route.method)
    return None, {}, allowed
