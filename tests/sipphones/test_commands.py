"""sip_add, sip_call and sync_sip_records: output and exit codes (0 ok, 1 ITNIO/data, 2 usage)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Call
from sipphones.models import SipGroup
from tests.conftest import VOICE_APP_ID

pytestmark = pytest.mark.django_db
SIP_ADD_ARGS = [
    "--app", VOICE_APP_ID, "--group", "sales", "--phone", "desk", "--quantity", "3",
    "--display-num", "861000000",
]  # fmt: skip


def run(name, *args):
    call_command(name, *args)


def fails(name, *args) -> CommandError:
    with pytest.raises(CommandError) as exc:
        call_command(name, *args)
    return exc.value


def test_sip_add_prints_the_phone_accounts(voice_app, sandbox, sandbox_state, operator, capsys):
    run("sip_add", *SIP_ADD_ARGS, "--as", "operator")
    assert capsys.readouterr().out.splitlines() == [
        f"Created SIP group sales on ITNIO (app {VOICE_APP_ID}).",
        "desk_001",
        "desk_002",
        "desk_003",
    ]
    group = SipGroup.objects.get()
    assert (group.state, group.created_by) == ("created", "operator")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--group", "abc", "--group: The group name must be 4–32 characters (got 3 characters)."),
        ("--phone", "p" * 33, "--phone: The phone name must be 4–32 characters"),
        ("--quantity", "51", "--quantity: The quantity must be an integer from 1 to 50 (got 51)."),
        ("--quantity", "0", "--quantity: The quantity must be an integer from 1 to 50 (got 0)."),
        ("--display-num", "123456", "--display-num: The display number must be 7–13 digits"),
        ("--app", "nope", "--app: no voice app with ITNIO app ID 'nope'"),
    ],
)
def test_sip_add_usage_errors_exit_2_and_send_nothing(
    voice_app, sandbox, sandbox_state, option, value, message
):
    args = list(SIP_ADD_ARGS)
    args[args.index(option) + 1] = value
    error = fails("sip_add", *args)
    assert error.returncode == 2 and message in str(error)
    assert sandbox_state.requests_for("/voice/sipAdd") == []


def test_sip_add_as_someone_who_may_not_spend_exits_2(voice_app, sandbox, viewer):
    error = fails("sip_add", *SIP_ADD_ARGS, "--as", "viewer")
    assert error.returncode == 2 and "may not place calls" in str(error)


def test_sip_add_refusal_exits_1_with_the_message(voice_app, sandbox, sandbox_state):
    sandbox_state.business_code_next("/voice/sipAdd", "-23", "data limit reached")
    error = fails("sip_add", *SIP_ADD_ARGS)
    assert error.returncode == 1
    assert "limit on SIP phones" in str(error) and "data limit reached" in str(error)
    assert SipGroup.objects.get().state == "failed"
    # The same command again retries the failed group.
    run("sip_add", *SIP_ADD_ARGS)
    assert SipGroup.objects.get().state == "created"


def test_sip_add_unknown_then_retry_confirmed_by_minus_20(voice_app, sandbox, sandbox_state):
    sandbox_state.drop_next("/voice/sipAdd")
    error = fails("sip_add", *SIP_ADD_ARGS)
    assert error.returncode == 1 and "answers -20 (already exists)" in str(error)
    changed = [*SIP_ADD_ARGS[:-2], "--display-num", "8610000001"]
    error = fails("sip_add", *changed)
    assert error.returncode == 2 and "retry it with the same" in str(error)
    run("sip_add", *SIP_ADD_ARGS)
    assert SipGroup.objects.get().state == "created"
    error = fails("sip_add", *SIP_ADD_ARGS)
    assert error.returncode == 1 and "already created on ITNIO" in str(error)


def test_sip_call_prints_the_voice_id(voice_app, sandbox, operator, capsys):
    run("sip_add", *SIP_ADD_ARGS)
    capsys.readouterr()
    run(
        "sip_call", "--app", VOICE_APP_ID, "--account", "desk_003", "--callee", "+91 98765 43210",
        "--as", "operator",
    )  # fmt: skip
    voice_id = capsys.readouterr().out.strip()
    call = Call.objects.get(voice_id=voice_id)
    assert (call.kind, call.callee, call.created_by) == ("sip", "919876543210", "operator")
    assert call.request["account"] == "desk_003" and call.phone_name == "desk"


def test_sip_call_errors(voice_app, sandbox, sandbox_state, viewer):
    run("sip_add", *SIP_ADD_ARGS)
    base = ["--app", VOICE_APP_ID, "--account", "desk_001", "--callee"]
    error = fails("sip_call", *base, "12")
    assert error.returncode == 2 and "7–15 digits" in str(error)
    error = fails("sip_call", *base, "919876543210", "--display-num", "12")
    assert error.returncode == 2 and "displayNum" in str(error)
    error = fails("sip_call", *base, "919876543210", "--as", "viewer")
    assert error.returncode == 2 and "may not place calls" in str(error)
    error = fails("sip_call", "--app", "nope", "--account", "desk_001", "--callee", "919876543210")
    assert error.returncode == 2
    error = fails(
        "sip_call", "--app", VOICE_APP_ID, "--account", "desk_004", "--callee", "9198765432"
    )
    assert error.returncode == 1 and "Rejected" in str(error) and "not a phone" in str(error)
    sandbox_state.drop_next("/voice/sendSip")
    error = fails("sip_call", *base, "919876543210")
    assert error.returncode == 1 and "Unknown" in str(error)
    assert Call.objects.filter(kind="sip").count() == 2


def test_sync_sip_records_output_and_usage(voice_app, sandbox, sandbox_state, capsys):
    run("sip_add", *SIP_ADD_ARGS)
    sandbox_state.clock_offset = -5
    run("sip_call", "--app", VOICE_APP_ID, "--account", "desk_001", "--callee", "919876543210")
    Call.objects.all().delete()
    capsys.readouterr()
    run("sync_sip_records", "--since", "2000-01-01", "--group", "sales", "--phone", "desk")
    out = capsys.readouterr().out.strip()
    assert out.startswith("checked=1 updated=0 finalised=0 expired=0 failed=0 created=1")
    assert Call.objects.get().record_source == "recordSipQuery"
    error = fails("sync_sip_records", "--since", "2024-02-01", "--until", "2024-01-01")
    assert error.returncode == 2 and "--until must be after --since" in str(error)
    error = fails("sync_sip_records", "--since", "2024-02-30")
    assert error.returncode == 2 and "is not a date" in str(error)
    with pytest.raises(CommandError):
        call_command("sync_sip_records")  # --since is required
