"""Issue 14's acceptance, from the command line: import a list with a default region, put part
of it on the do-not-call list, run two campaigns on overlapping lists with cap 1/24, read the
preflight, launch, and find in the sandbox's record that no suppressed or capped number was
called and none twice."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Callee
from tests.conftest import VOICE_APP_ID

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args, exit_code: int = 0) -> str:
    out = StringIO()
    try:
        call_command(*args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        assert exc.returncode == exit_code, exc
    else:
        assert exit_code == 0
    return out.getvalue()


def keys(out: str) -> dict[str, int]:
    pairs = (line.split("=", 1) for line in out.splitlines() if "=" in line and " " not in line)
    return {key: int(value) for key, value in pairs}


def test_two_campaigns_on_overlapping_lists_with_dnc_and_cap(
    uploaded_file, sandbox_state, settings, tmp_path
):
    settings.ITNIO_SEND_GROUP_MAX = 7
    north = tmp_path / "north.csv"
    south = tmp_path / "south.csv"
    # 30 Singapore numbers written nationally: 9100 0001 … 9100 0030; one invalid row each.
    north.write_text(
        "phone,name,tier\n"
        + "".join(f"9100 {i:04d},N{i},{'gold' if i % 2 else 'blue'}\n" for i in range(1, 21))
        + "1234 5678,Bad,gold\n"
    )
    south.write_text(
        "phone,name,tier\n"
        + "".join(f"9100 {i:04d},S{i},gold\n" for i in range(11, 31))
        + "1234 5678,Bad,gold\n"
    )
    assert "imported=20 rejected=1 duplicates=0" in run(
        "import_contacts", "North", str(north), "--default-region", "SG"
    )
    assert "imported=20 rejected=1 duplicates=0" in run(
        "import_contacts", "South", str(south), "--default-region", "SG"
    )
    east = tmp_path / "east.csv"
    east.write_text("phone,name\n" + "".join(f"9100 {i:04d},E{i}\n" for i in range(30, 36)))
    assert "imported=6" in run("import_contacts", "East", str(east), "--default-region", "SG")
    suppressed = [f"+65 9100 {i:04d}" for i in (1, 12, 25)]
    assert run("dnc_add", *suppressed, "--reason", "asked").strip() == "added=3 updated=0"

    for name, lists in (("Alpha", "North,South"), ("Beta", "South,East")):
        run(
            "create_campaign",
            name,
            "--app",
            VOICE_APP_ID,
            "--voice-file",
            uploaded_file.file_name,
            "--contacts",
            lists,
            "--frequency-cap",
            "1/24",
        )
    alpha = keys(run("launch_campaign", "Alpha"))
    # 40 contact rows, 10 numbers in both lists, 3 suppressed: 27 to call.
    assert alpha == {
        "will_call": 27,
        "skipped_dnc": 3,
        "skipped_frequency_cap": 0,
        "skipped_invalid": 0,
        "skipped_duplicate": 10,
        "skipped_segment": 0,
        "skipped_no_window": 0,
        "unknown_rate": 27,  # the cost estimate (issue 16): the app has no rates
    }
    run("launch_campaign", "Alpha", "--for-real")
    # Beta: South's 20 (2 suppressed, the other 18 called by Alpha within the day) and East's
    # 6 (9100 0030 is in South too): 5 to call.
    beta = keys(run("launch_campaign", "Beta"))
    assert beta == {
        "will_call": 5,
        "skipped_dnc": 2,
        "skipped_frequency_cap": 18,
        "skipped_invalid": 0,
        "skipped_duplicate": 1,
        "skipped_segment": 0,
        "skipped_no_window": 0,
        "unknown_rate": 5,
    }
    run("launch_campaign", "Beta", "--for-real")
    assert "skipped_dnc=2 skipped_frequency_cap=18" in run("campaign_status", "Beta")

    accepted = sandbox_state.accepted_callees()
    assert len(accepted) == 32 and max(accepted.values()) == 1
    assert not {"6591000001", "6591000012", "6591000025"} & set(accepted)
    assert Callee.objects.filter(campaign__name="Alpha", state="skipped").count() == 3
