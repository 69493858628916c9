"""The sandbox's /aivoice endpoints (itnio-api.md §5, §6.2, seed 000): rules, state errors,
robot calls with transcripts, records, pushes and playable recordings."""

from __future__ import annotations

import io
import wave
from datetime import datetime
from typing import Any

import pytest
import requests

from itnio_portal.itnio.sandbox import SandboxServer, SandboxState

from .conftest import AI_APP, AI_JOB, APP, KEY, Api, make_state

TASK: dict[str, Any] = {
    "appId": AI_APP,
    "name": "Renewal July",
    "dialogFlowId": 501,
    "mode": "MANUAL",
    "dailyStartDateTime": "09:00",
    "dailyEndDateTime": "20:00",
    "robotCount": 2,
    "jobPhoneNumberId": 3001,
    "redial": False,
}


def person(phone: str, name: str = "Ann", **extra: Any) -> dict[str, Any]:
    return {"name": name, "phoneNumber": phone, **extra}


def add_task(api: Api, **changes: Any) -> int:
    return api.ok("POST", "/aivoice/taskAdd", {**TASK, **changes})


def code(api: Api, path: str, body: dict[str, Any]) -> str:
    return api.call("POST", path, body)["status"]


def import_rows(api: Api, job_id: int, rows: list[dict[str, Any]], **extra: Any) -> Any:
    return api.ok(
        "POST",
        "/aivoice/importCustomer",
        {"appId": AI_APP, "jobId": job_id, "customerPersons": rows, **extra},
    )


def records(api: Api, start: str = "2022-01-18 00:00:00", end: str = "2022-01-19 00:00:00"):
    body = {"current": 1, "size": 100, "params": {"appId": AI_APP, "startTime": start}}
    body["params"]["endTime"] = end
    return api.ok("POST", "/aivoice/recordQuery", body)


# ---- channelList, taskAdd, taskEdit, taskList --------------------------------------------------


def test_channel_list_gives_string_line_ids(api: Api) -> None:
    lines = api.ok("POST", "/aivoice/channelList", {"appId": AI_APP})
    assert lines[0] == {"tenantPhoneNumberId": "3001", "phoneNumber": "+62 21 5099 0001 (Jakarta)"}
    assert code(api, "/aivoice/channelList", {"appId": APP}) == "-37"  # a voice app


def test_task_add_returns_a_job_id_listed_by_task_list(api: Api) -> None:
    job_id = add_task(api)
    assert isinstance(job_id, int)
    page = api.ok(
        "POST", "/aivoice/taskList", {"current": 1, "size": 10, "params": {"appId": AI_APP}}
    )
    mine = next(r for r in page["records"] if r["jobId"] == job_id)
    assert mine == {
        "jobId": job_id,
        "name": "Renewal July",
        "dialogFlowName": "Script 501",
        "jobPhoneNumberName": "+62 21 5099 0001 (Jakarta)",
        "robotCount": 2,
        "mode": "MANUAL",
        "hangupSms": False,
        "taskTotal": 0,
        "taskCompleted": 0,
        "status": "CAN_START",
        "isDialogFlowUnbind": False,
        "createTime": "2022-01-18 14:42:40",
    }
    named = api.ok("POST", "/aivoice/taskList", {"params": {"appId": AI_APP, "name": "July"}})
    assert [r["jobId"] for r in named["records"]] == [job_id]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"dailyStartDateTime": "08:30"}, "-48"),
        ({"dailyEndDateTime": "20:30"}, "-48"),
        ({"robotCount": 6}, "-52"),
        ({"jobPhoneNumberId": 9999}, "-27"),
        ({"mode": "AUTO"}, "-27"),  # no startDateTime
        ({"mode": "AUTO", "startDateTime": "2022-01-19T09:00:00+08:00"}, "-27"),
        ({"dailyStartDateTime": "9:00"}, "-27"),
        ({"dailyStartDateTime": "18:00", "dailyEndDateTime": "10:00"}, "-27"),
        ({"inactiveTimeList": [{"startTime": "12:00", "endTime": "13:00"}] * 4}, "-27"),
        ({"daysOfWeek": ["MON"]}, "-27"),
        ({"redial": True}, "-27"),  # no redialCondition
        ({"redial": "false"}, "-27"),
        ({"appId": APP}, "-37"),
        ({"appId": "NOPE0001"}, "-37"),
    ],
)
def test_task_add_rules(api: Api, changes: dict[str, Any], status: str) -> None:
    assert code(api, "/aivoice/taskAdd", {**TASK, **changes}) == status


def test_task_name_is_unique_per_app(api: Api) -> None:
    add_task(api)
    answer = api.call("POST", "/aivoice/taskAdd", TASK)
    assert answer["status"] == "-33" and answer["data"] is None
    api.state.add_app(KEY, "LILIN999", kind="ai")
    assert code(api, "/aivoice/taskAdd", {**TASK, "appId": "LILIN999"}) == "0"


def test_robot_maximum_is_an_account_setting(api: Api) -> None:
    api.state.ai_max_robots = 10
    assert code(api, "/aivoice/taskAdd", {**TASK, "robotCount": 10}) == "0"


def test_unbound_script_is_minus_55(api: Api) -> None:
    api.state.unbound_dialog_flows.add(501)
    assert code(api, "/aivoice/taskAdd", TASK) == "-55"


def test_task_edit(api: Api) -> None:
    first = add_task(api)
    second = add_task(api, name="Second")
    edit = {**TASK, "jobId": first, "name": "Renamed", "robotCount": 3}
    assert code(api, "/aivoice/taskEdit", edit) == "0"
    job = api.state.ai_jobs[(AI_APP, first)]
    assert (job.name, job.robot_count) == ("Renamed", 3)
    assert code(api, "/aivoice/taskEdit", {**edit, "name": "Second"}) == "-33"
    assert code(api, "/aivoice/taskEdit", {**edit, "jobId": 1}) == "-32"
    assert code(api, "/aivoice/taskEdit", {**edit, "dailyEndDateTime": "21:00"}) == "-48"
    assert second


# ---- taskStart ---------------------------------------------------------------------------------


def test_start_needs_customers_then_cannot_start_twice(api: Api) -> None:
    job_id = add_task(api)
    start = {"appId": AI_APP, "jobId": job_id}
    answer = api.call("POST", "/aivoice/taskStart", start)
    assert answer == {
        "status": "-45",
        "reason": "no customers imported, the task cannot start",
        "data": None,
    }
    import_rows(api, job_id, [person("8613800000001")])
    assert code(api, "/aivoice/taskStart", start) == "0"
    assert code(api, "/aivoice/taskStart", start) == "-39"
    assert code(api, "/aivoice/taskStart", {"appId": AI_APP, "jobId": 5}) == "-32"


def test_forced_codes_from_the_seed_table(api: Api) -> None:
    api.state.business_code_next("/aivoice/taskStart", "-3", "余额不足")
    assert code(api, "/aivoice/taskStart", {"appId": AI_APP, "jobId": AI_JOB}) == "-3"


# ---- importCustomer ----------------------------------------------------------------------------


def test_import_customer_returns_the_failed_rows(api: Api) -> None:
    job_id = add_task(api)
    rows = [
        person("8613800000001", properties={"amount": "12.50"}),
        person("", name="No phone"),
        {"name": "Missing phone"},
        person("8613800000000", name="Bad suffix"),
        person("8613800000002", name="Bo", gender="MALE"),
        person("1" * 33, name="Too long"),
    ]
    failed = import_rows(api, job_id, rows)
    assert [r["name"] for r in failed] == ["No phone", "Missing phone", "Bad suffix", "Too long"]
    job = api.state.ai_jobs[(AI_APP, job_id)]
    assert [(p.name, p.gender, p.properties) for p in job.persons] == [
        ("Ann", None, {"amount": "12.50"}),
        ("Bo", "MALE", {}),
    ]


@pytest.mark.parametrize(
    "rows",
    [
        [person("8613800000001")] * 101,
        [],
        [person("8613800000001", gender="")],
        [person("8613800000001", gender="M")],
        [{"phoneNumber": "8613800000001"}],
        [person("8613800000001", properties=["x"])],
    ],
)
def test_import_customer_whole_request_errors(api: Api, rows: list[Any]) -> None:
    body = {"appId": AI_APP, "jobId": AI_JOB, "customerPersons": rows}
    assert code(api, "/aivoice/importCustomer", body) == "-27"


def test_import_customer_accepts_exactly_100(api: Api) -> None:
    rows = [person(f"86138{i:08d}") for i in range(1, 101)]
    assert import_rows(api, AI_JOB, rows) == []
    assert api.state.ai_jobs[(AI_APP, AI_JOB)].customers == 103


def test_missing_script_variables_are_minus_51(api: Api) -> None:
    api.state.script_variables[501] = ("amount",)
    job_id = add_task(api)
    body = {"appId": AI_APP, "jobId": job_id, "customerPersons": [person("8613800000001")]}
    assert code(api, "/aivoice/importCustomer", body) == "-51"
    body["customerPersons"] = [person("8613800000001", properties={"amount": "3"})]
    assert code(api, "/aivoice/importCustomer", body) == "0"


def test_call_record_dup_skips_numbers_already_called(api: Api) -> None:
    job_id = add_task(api)
    import_rows(api, job_id, [person("8613800000001")])
    api.ok("POST", "/aivoice/taskStart", {"appId": AI_APP, "jobId": job_id})
    again = [person("8613800000001", name="Again")]
    assert import_rows(api, job_id, again, callRecordDup=True) == again
    assert import_rows(api, job_id, again) == []  # without de-duplication: imported


# ---- importCustomer/del and taskNoCall ---------------------------------------------------------


def test_delete_removes_only_uncalled_numbers(api: Api) -> None:
    job_id = add_task(api)
    import_rows(api, job_id, [person("8613800000001"), person("8613800000002", name="Bo")])
    body = {
        "appId": AI_APP,
        "jobId": str(job_id),
        "jobPhoneNumberList": [{"phoneNumber": "8613800000001"}, {"phoneNumber": "861"}],
    }
    assert api.ok("POST", "/aivoice/importCustomer/del", body) == 1
    body["jobId"] = job_id  # an Int is refused: jobId is a String here (§5.6)
    assert code(api, "/aivoice/importCustomer/del", body) == "-27"
    api.ok("POST", "/aivoice/taskStart", {"appId": AI_APP, "jobId": job_id})
    called = {
        "appId": AI_APP,
        "jobId": str(job_id),
        "jobPhoneNumberList": [person("8613800000002")],
    }
    assert api.ok("POST", "/aivoice/importCustomer/del", called) == 0
    assert code(api, "/aivoice/importCustomer/del", {**called, "jobId": "1"}) == "-32"


def test_task_no_call_lists_uncalled_customers(api: Api) -> None:
    job_id = add_task(api)
    import_rows(api, job_id, [person("8613800000001", properties={"amount": "5"})])
    params = {"appId": AI_APP, "jobId": job_id}
    page = api.ok("POST", "/aivoice/taskNoCall", {"params": params})
    assert page["total"] == 1
    (row,) = page["records"]
    assert row["calledPhoneNumber"] == "8613800000001" and row["customerPersonName"] == "Ann"
    assert row["properties"] == {"amount": "5"} and row["status"] == "CAN_START"
    assert row["jobId"] == job_id and isinstance(row["customerPersonId"], int)
    filtered = {"params": {**params, "taskStatus": "IN_PROCESS"}}
    assert api.ok("POST", "/aivoice/taskNoCall", filtered)["total"] == 0
    everything = api.ok("POST", "/aivoice/taskNoCall", {"params": {"appId": AI_APP}})
    assert everything["total"] == 4  # the seeded job's three customers too
    api.ok("POST", "/aivoice/taskStart", params)
    assert api.ok("POST", "/aivoice/taskNoCall", {"params": params})["total"] == 0


# ---- robot calls, records, pushes, recordings --------------------------------------------------


def test_running_job_calls_its_customers_and_records_appear(api: Api) -> None:
    job_id = add_task(api)
    rows = [person(f"86138000000{i:02d}", name=f"P{i}") for i in range(1, 21)]
    import_rows(api, job_id, rows)
    assert records(api)["total"] == 0  # nothing called before the start
    api.ok("POST", "/aivoice/taskStart", {"appId": AI_APP, "jobId": job_id})
    page = records(api)
    assert page["total"] == 20
    statuses = {r["resultStatus"] for r in page["records"]}
    assert "ANSWERED" in statuses and len(statuses) > 1
    answered = next(r for r in page["records"] if r["resultStatus"] == "ANSWERED")
    assert answered["callJobId"] == job_id and answered["robotCount"] == 2
    assert answered["tenantPhoneNumberId"] == "3001" and answered["dialogFlowId"] == 501
    datetime.strptime(answered["startTime"], "%Y-%m-%d %H:%M:%S")
    assert answered["chatDuration"] > 0 and answered["chargedDuration"] % 60 == 0
    assert answered["intentLevelDetailName"][:1] in "ABCD"
    assert answered["fullAudioUrl"].endswith(f"/_sandbox/recordings/{answered['callId']}.wav")
    assert "callDetailList" not in answered  # not in §5.8's list
    listed = api.ok("POST", "/aivoice/taskList", {"params": {"appId": AI_APP, "name": "July"}})
    assert (
        listed["records"][0]["taskCompleted"] == 20 and listed["records"][0]["status"] == "RUNNING"
    )
    # customers imported into a running job are called at once
    import_rows(api, job_id, [person("8613800000099", name="Late")])
    assert records(api)["total"] == 21


def test_record_query_wants_the_ai_time_format(api: Api) -> None:
    body = {
        "params": {
            "appId": AI_APP,
            "startTime": "2022-01-18T00:00:00+08:00",
            "endTime": "2022-01-19 00:00:00",
        }
    }
    assert code(api, "/aivoice/recordQuery", body) == "-27"
    body["params"]["startTime"] = "2022-01-18 00:00:00"
    del body["params"]["appId"]
    assert code(api, "/aivoice/recordQuery", body) == "-27"


def test_record_query_window_and_paging(api: Api) -> None:
    job_id = add_task(api)
    import_rows(api, job_id, [person(f"86138000000{i:02d}") for i in range(1, 6)])
    api.ok("POST", "/aivoice/taskStart", {"appId": AI_APP, "jobId": job_id})
    assert records(api, "2022-01-18 15:00:00", "2022-01-18 16:00:00")["total"] == 0
    body = {
        "current": 2,
        "size": 2,
        "params": {
            "appId": AI_APP,
            "startTime": "2022-01-18 14:00:00",
            "endTime": "2022-01-18 15:00:00",
        },
    }
    page = api.ok("POST", "/aivoice/recordQuery", body)
    assert (page["total"], page["pages"], len(page["records"])) == (5, 3, 2)


def test_pushes_have_the_6_2_shape_and_recordings_play(clock, receiver) -> None:
    state = make_state(clock)
    state.add_app(KEY, AI_APP, kind="ai", push_url=receiver.url)
    with SandboxServer(state, push_interval=None) as server:
        api = Api(server)
        job_id = add_task(api)
        import_rows(api, job_id, [person(f"86138000000{i:02d}", name=f"P{i}") for i in range(1, 9)])
        api.ok("POST", "/aivoice/taskStart", {"appId": AI_APP, "jobId": job_id})
        attempts = state.flush_pushes()
        assert len(attempts) == 8 and all(a.ok for a in attempts)
        bodies = receiver.bodies()
        answered = [b for b in bodies if b["resultStatus"] == "ANSWERED"]
        assert answered
        push = answered[0]
        assert push["robotCallJobId"] == job_id
        assert isinstance(push["startTime"], int) and push["startTime"] == int(clock())
        assert push["endTime"] - push["startTime"] >= push["chatDuration"]
        turns = push["callDetailList"]
        assert 2 <= len(turns) <= 6
        assert [t["type"] for t in turns[:2]] == ["ROBOT", "PERSON"]
        offsets = [t["startOffset"] for t in turns]
        assert offsets == sorted(offsets) and all(t["endOffset"] > t["startOffset"] for t in turns)
        assert push["chatRound"] == len(turns) // 2
        assert push["billingTime"] % 60 == 0 and push["pay"] in ("0.02", "0.04")
        assert "P" in turns[0]["text"]  # the robot greets the customer by name
        response = requests.get(push["fullAudioUrl"], timeout=5)
        assert response.status_code == 200 and response.headers["Content-Type"] == "audio/wav"
        with wave.open(io.BytesIO(response.content)) as recording:
            seconds = recording.getnframes() / recording.getframerate()
        assert 1 <= seconds <= 30
        assert requests.get(push["customerAudioUrl"], timeout=5).status_code == 200
        missed = next(b for b in bodies if b["resultStatus"] != "ANSWERED")
        assert missed["callDetailList"] == [] and missed["fullAudioUrl"] == ""
        assert requests.get(f"{server.base_url}/_sandbox/recordings/nope.wav").status_code == 404
        balance = state.balance(KEY)
        assert balance < 100


def test_calls_are_deterministic(clock) -> None:
    def run() -> list[tuple[str, str, str]]:
        state: SandboxState = make_state(clock)
        with SandboxServer(state, push_interval=None) as server:
            api = Api(server)
            job_id = add_task(api)
            import_rows(api, job_id, [person(f"86138000000{i:02d}") for i in range(1, 11)])
            api.ok("POST", "/aivoice/taskStart", {"appId": AI_APP, "jobId": job_id})
            return [
                (r["callId"], r["resultStatus"], r["intentLevelDetailName"])
                for r in records(api)["records"]
            ]

    assert run() == run()


def test_robots_call_one_after_another(clock) -> None:
    state = make_state(clock, life_scale=1.0)
    with SandboxServer(state, push_interval=None) as server:
        api = Api(server)
        job_id = add_task(api, robotCount=1)
        import_rows(api, job_id, [person("8613800000001"), person("8613800000002", name="Bo")])
        api.ok("POST", "/aivoice/taskStart", {"appId": AI_APP, "jobId": job_id})
        first, second = sorted(state.ai_calls.values(), key=lambda c: c.dial_at)
        assert second.dial_at == first.final_at
        assert records(api)["total"] == 0  # still talking
        clock.advance(first.final_at - clock() + 1)
        assert records(api)["total"] == 1
        clock.advance(600)
        assert records(api)["total"] == 2


def test_auto_job_starts_at_its_start_time(api: Api, clock) -> None:
    job_id = add_task(api, mode="AUTO", startDateTime="2022-01-18 15:00:00")
    import_rows(api, job_id, [person("8613800000001")])
    job = api.state.ai_jobs[(AI_APP, job_id)]
    assert job.status == "CAN_START"
    clock.advance(20 * 60)
    api.state.advance()
    assert job.status == "RUNNING"


def test_control_lists_ai_calls(api: Api) -> None:
    api.ok("POST", "/aivoice/taskStart", {"appId": AI_APP, "jobId": AI_JOB})
    calls = api.control("GET", "ai-calls").json()["aiCalls"]
    assert len(calls) == 3 and all(c["final"] for c in calls)
    assert api.control("POST", "settings", {"ai_max_robots": 2}).json()["ai_max_robots"] == 2
