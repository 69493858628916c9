"""ai_task_start, ai_import_customers and ai_sync: output, stderr and exit codes (0 ok, 1
ITNIO/data, 2 usage); the periodic ai_sync_records job."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.db import connections

from campaigns.models import AiCallRecord, AiCustomer, AiTask
from campaigns.scheduler import registered_jobs
from tests.conftest import AI_APP_ID, VOICE_APP_ID

from .conftest import SYSTEM, add_customers, requests_to

pytestmark = pytest.mark.django_db


def fails(name, *args) -> CommandError:
    with pytest.raises(CommandError) as exc:
        call_command(name, *args)
    return exc.value


def run_argv(name: str, *args: str) -> int:
    """Run as manage.py does: a CommandError goes to stderr and becomes the exit code."""
    command = load_command_class("campaigns", name)
    close_all = connections.close_all
    connections.close_all = lambda: None  # run_from_argv closes them; the test database stays
    try:
        command.run_from_argv(["manage.py", name, *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        connections.close_all = close_all
    return 0


# ---- ai_task_start -------------------------------------------------------------------------------


def test_start_any_job_creates_the_local_task(ai_app, sandbox, sandbox_state, operator, capsys):
    sandbox_state.add_ai_job(AI_APP_ID, 10886, customers=2, name="Console job")
    call_command("ai_task_start", "--app", AI_APP_ID, "--job-id", "10886", "--as", "operator")
    out = capsys.readouterr().out
    assert (
        out.strip() == f"Started job 10886 (Console job) of app {AI_APP_ID}. ITNIO status: RUNNING."
    )
    task = AiTask.objects.get(remote_job_id=10886)
    assert task.started_by == "operator"
    (request,) = requests_to(sandbox_state, "/aivoice/taskStart")
    assert request.body == {"appId": AI_APP_ID, "jobId": 10886}


def test_start_refusals_go_to_stderr_in_english(created_task, sandbox_state, capsys):
    job = str(created_task.remote_job_id)
    assert run_argv("ai_task_start", "--app", AI_APP_ID, "--job-id", job) == 1
    err = capsys.readouterr().err
    assert "No customers have been imported, so the AI task cannot start." in err
    assert "(ITNIO code -45: “no customers imported, the task cannot start”)" in err
    add_customers(created_task, 1)
    from campaigns.services.ai_customers import ai_customers_push

    ai_customers_push(task=created_task, actor=SYSTEM)
    assert run_argv("ai_task_start", "--app", AI_APP_ID, "--job-id", job) == 0
    assert run_argv("ai_task_start", "--app", AI_APP_ID, "--job-id", job) == 1
    err = capsys.readouterr().err
    assert "The AI task cannot be started in its current state." in err and "-39" in err
    assert run_argv("ai_task_start", "--app", AI_APP_ID, "--job-id", "5") == 1
    assert "The AI outbound task does not exist." in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app", "NOPE", "--job-id", "1"], "--app: no AI voice app with ITNIO app ID 'NOPE'"),
        (["--app", VOICE_APP_ID, "--job-id", "1"], "no AI voice app"),
        (["--app", AI_APP_ID, "--job-id", "0"], "--job-id must be a positive number"),
        (["--app", AI_APP_ID, "--job-id", "1", "--as", "viewer"], "may not place calls"),
    ],
)
def test_start_usage_errors_exit_2(ai_app, sandbox, sandbox_state, viewer, args, message):
    error = fails("ai_task_start", *args)
    assert error.returncode == 2 and message in str(error)
    assert requests_to(sandbox_state, "/aivoice/taskStart") == []


# ---- ai_import_customers -------------------------------------------------------------------------


def customer_file(tmp_path: Path, count: int, *, bad: tuple[int, ...] = ()) -> Path:
    lines = ["name,phone_number,gender,amount"]
    for i in range(1, count + 1):
        phone = f"861380000{i:04d}" if i not in bad else f"86138{i:04d}0000"
        lines.append(f"Customer {i},{phone},{'FEMALE' if i % 2 else ''},{i}.00")
    lines.append("No phone,,MALE,1")
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_and_push_250_in_chunks_of_100(created_task, sandbox_state, tmp_path, capsys):
    path = customer_file(tmp_path, 250, bad=(42, 142))
    call_command("ai_import_customers", f"job:{created_task.remote_job_id}", str(path), "--push")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Imported into task Renewal July: 251 row(s): 250 new, 0 updated, 1 skipped."
    assert out[1] == "  row 252 skipped (No phone, -): no phone number"
    assert out[2] == "Pushed: 248 customer(s) pushed to ITNIO in 3 request(s), 2 rejected."
    assert out[3].startswith("  rejected Customer 42 (8613800420000): ITNIO listed this row")
    assert out[4].startswith("  rejected Customer 142 (8613801420000)")
    sizes = [
        len(r.body["customerPersons"])
        for r in requests_to(sandbox_state, "/aivoice/importCustomer")
    ]
    assert sizes == [100, 100, 50]
    assert AiCustomer.objects.filter(state="pushed").count() == 248
    assert AiCustomer.objects.get(name="Customer 1").properties == {"amount": "1.00"}


def test_import_without_push_and_dry_run(task, sandbox, sandbox_state, tmp_path, capsys):
    path = customer_file(tmp_path, 3)
    call_command("ai_import_customers", "Renewal July", str(path), "--dry-run")
    assert capsys.readouterr().out.startswith("Would import into task Renewal July: 4 row(s)")
    assert AiCustomer.objects.count() == 0
    call_command("ai_import_customers", str(task.pk), str(path))
    assert AiCustomer.objects.filter(state="local").count() == 3
    assert requests_to(sandbox_state, "/aivoice/importCustomer") == []


def test_push_refusal_exits_1(created_task, sandbox_state, tmp_path, capsys):
    sandbox_state.script_variables[501] = ("due_date",)
    path = customer_file(tmp_path, 2)
    code = run_argv("ai_import_customers", str(created_task.pk), str(path), "--push")
    assert code == 1
    err = capsys.readouterr().err
    assert "A customer's custom properties are incomplete." in err and "-51" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Nope", "x.csv"], "TASK: no AI task 'Nope'"),
        (["Renewal July", "/nonexistent.csv"], "is not a file"),
    ],
)
def test_import_usage_errors(task, args, message):
    error = fails("ai_import_customers", *args)
    assert error.returncode == 2 and message in str(error)


def test_an_unreadable_file_exits_1(task, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("name,email\nAnn,a@b.c\n")
    error = fails("ai_import_customers", "Renewal July", str(path))
    assert error.returncode == 1 and "No phone number column" in str(error)


# ---- ai_sync -------------------------------------------------------------------------------------


def test_sync_reads_tasks_and_records(created_task, sandbox_state, capsys):
    add_customers(created_task, 3)
    from campaigns.services.ai_customers import ai_customers_push
    from campaigns.services.ai_tasks import ai_task_start

    ai_customers_push(task=created_task, actor=SYSTEM)
    ai_task_start(task=created_task, actor=SYSTEM)
    call_command("ai_sync")
    out = capsys.readouterr().out
    assert "tasks_seen=1" in out and "records_created=3" in out
    assert AiCallRecord.objects.count() == 3
    call_command("ai_sync", "--since", "2020-01-01")
    assert "records_updated=3" in capsys.readouterr().out


def test_sync_errors_exit_1_and_usage_2(ai_app, sandbox, sandbox_state):
    sandbox_state.business_code_next("/aivoice/taskList", "-49", "account not verified")
    error = fails("ai_sync")
    assert error.returncode == 1 and "The ITNIO account is not verified." in str(error)
    assert fails("ai_sync", "--since", "tomorrow").returncode == 2
    assert fails("ai_sync", "--app", VOICE_APP_ID).returncode == 2


def test_the_periodic_job_is_registered_and_fills_in_missed_pushes(created_task, sandbox_state):
    job = next(job for job in registered_jobs() if job.name.endswith("ai_sync_records"))
    assert job.every.total_seconds() == 300
    add_customers(created_task, 2)
    from campaigns.services.ai_customers import ai_customers_push
    from campaigns.services.ai_tasks import ai_task_start
    from campaigns.tasks import ai_sync_records

    ai_customers_push(task=created_task, actor=SYSTEM)
    ai_task_start(task=created_task, actor=SYSTEM)
    assert AiCallRecord.objects.count() == 0  # the app has no push URL at the sandbox
    assert "records_created=2" in ai_sync_records.call()
    assert AiCallRecord.objects.filter(source="recordQuery", task=created_task).count() == 2
