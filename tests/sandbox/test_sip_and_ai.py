"""sipAdd uniqueness and quota (§3.9), aivoice taskStart codes (§5.3)."""

from __future__ import annotations

from typing import Any

from .conftest import AI_APP, AI_JOB, APP, EUR_APP, Api

SIP = "/voice/sipAdd"
TASK = "/aivoice/taskStart"


def sip(group: str, phone: str, quantity: int, app: str = APP) -> dict[str, Any]:
    return {
        "groupName": group,
        "phoneName": phone,
        "quantity": quantity,
        "displayNum": "861000000",
        "appId": app,
    }


def test_sip_add_creates_named_phones(api: Api) -> None:
    api.ok("POST", SIP, sip("sipGroup", "desk", 3))
    (group,) = api.state.sip_groups
    assert group.phones == ["desk_001", "desk_002", "desk_003"]


def test_sip_add_names_are_unique_per_app(api: Api) -> None:
    api.ok("POST", SIP, sip("sipGroup", "desk", 3))
    same_group = api.call("POST", SIP, sip("sipGroup", "other", 3))
    assert same_group["status"] == "-20"
    assert "groupName" in same_group["reason"]
    same_phone = api.call("POST", SIP, sip("group2", "desk", 3))
    assert same_phone["status"] == "-20"
    assert "phoneName" in same_phone["reason"]
    # another app of the same account has its own namespace
    assert api.call("POST", SIP, sip("sipGroup", "desk", 3, app=EUR_APP))["status"] == "0"
    assert len(api.state.sip_groups) == 2


def test_sip_add_quota(api: Api) -> None:
    api.ok("POST", SIP, sip("group1", "ph1", 50))
    api.ok("POST", SIP, sip("group2", "ph2", 30))
    over = api.call("POST", SIP, sip("group3", "ph3", 21))
    assert over["status"] == "-23"
    assert over["data"] is None
    api.ok("POST", SIP, sip("group3", "ph3", 20))  # exactly 100
    assert api.call("POST", SIP, sip("group4", "ph4", 1))["status"] == "-23"
    assert api.call("POST", SIP, sip("group4", "ph4", 1, app=EUR_APP))["status"] == "0"


def test_sip_quota_is_configurable(api: Api) -> None:
    api.state.phone_quota = 5
    assert api.call("POST", SIP, sip("group1", "ph1", 6))["status"] == "-23"
    assert api.call("POST", SIP, sip("group1", "ph1", 5))["status"] == "0"


def test_task_start_success_then_minus_39(api: Api) -> None:
    assert api.call("POST", TASK, {"appId": AI_APP, "jobId": AI_JOB}) == {
        "status": "0",
        "reason": "success",
        "data": None,
    }
    assert api.state.ai_jobs[(AI_APP, AI_JOB)].status == "RUNNING"
    again = api.call("POST", TASK, {"appId": AI_APP, "jobId": AI_JOB})
    assert again["status"] == "-39"


def test_task_start_unknown_job_is_minus_32(api: Api) -> None:
    assert api.call("POST", TASK, {"appId": AI_APP, "jobId": 1})["status"] == "-32"


def test_task_start_unknown_or_voice_app_is_minus_37(api: Api) -> None:
    assert api.call("POST", TASK, {"appId": "NOPE0001", "jobId": AI_JOB})["status"] == "-37"
    api.state.add_ai_job(APP, AI_JOB, customers=5)
    assert api.call("POST", TASK, {"appId": APP, "jobId": AI_JOB})["status"] == "-37"


def test_task_start_without_customers_is_minus_45(api: Api) -> None:
    api.state.add_ai_job(AI_APP, 777, customers=0)
    answer = api.call("POST", TASK, {"appId": AI_APP, "jobId": 777})
    assert answer["status"] == "-45"
    assert api.state.ai_jobs[(AI_APP, 777)].status == "CAN_START"


def test_task_start_from_paused_is_allowed(api: Api) -> None:
    api.state.add_ai_job(AI_APP, 778, customers=2, status="PAUSED")
    assert api.call("POST", TASK, {"appId": AI_APP, "jobId": 778})["status"] == "0"
