"""The call list and the call page as an operator sees them; Verify credentials; itnio_check."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from campaigns.models import Call, ItnioAccount

pytestmark = pytest.mark.django_db


def make_call(app, **fields):
    base = {"kind": "group", "state": "final", "callee": "919876543210"}
    base.update(fields)
    return Call.objects.create(app=app, **base)


def test_call_page_shows_outcome_timeline_and_billing(client, operator, voice_app):
    t0 = timezone.now().replace(microsecond=0)
    call = make_call(
        voice_app,
        voice_id="2203031113381000002",
        code="Afghanistan(Kandahar)",
        submit_time=t0,
        call_time=t0 + timedelta(seconds=5),
        ringing_time=t0 + timedelta(seconds=7),
        answer_time=t0 + timedelta(seconds=10),
        hangup_time=t0 + timedelta(seconds=15),
        call_duration=5,
        charged_duration=20,
        termination_code="1000",
        termination_reason="success",
        cost=Decimal("2"),
        rate=Decimal("1.2"),
        base_cost=Decimal("1"),
        bill_period="20+20",
        currency="EUR",
        settle_rate=Decimal("1.2793"),
        quote_exchange=Decimal("0.938"),
        settle_pay=Decimal("1.2793"),
        feedback_value="1",
        raw_record={"voiceId": "2203031113381000002"},
    )
    client.force_login(operator)  # who may refresh it from ITNIO
    page = client.get(f"/admin/campaigns/call/{call.pk}/change/").content.decode()
    for heading in ("Outcome", "Timeline", "Billing", "Raw record"):
        assert f">{heading}</h2>" in page
    assert "Yes, at" in page  # answered
    assert "success" in page and "1000" in page  # terminationCode shown as received
    assert "+5 s" in page and "+2 s" in page and "+3 s" in page  # gaps between steps
    assert "2 EUR" in page and "1.2 EUR per minute" in page
    for value in ("20+20", "1.2793", "0.938", "Afghanistan(Kandahar)", "1 USD"):
        assert value in page
    assert "0.938000" not in page and "1.279300" not in page  # as ITNIO sent them, not padded
    assert 'id="refresh-from-itnio"' in page
    assert 'name="_save"' not in page  # records are not edited by hand


def test_list_filters_search_and_cost_totals(client, viewer, voice_app):
    make_call(
        voice_app,
        voice_id="V1",
        callee="919800000001",
        cost=Decimal("0.10"),
        currency="USD",
        answer_time=timezone.now(),
        hangup_time=timezone.now(),
    )
    make_call(
        voice_app,
        voice_id="V2",
        callee="919800000002",
        cost=Decimal("0.20"),
        currency="USD",
        hangup_time=timezone.now(),
    )
    make_call(
        voice_app,
        voice_id="V3",
        callee="628100000003",
        cost=Decimal("0.30"),
        currency="EUR",
        hangup_time=timezone.now(),
    )
    make_call(voice_app, voice_id="V4", callee="628100000004", state="submitted", kind="tts")
    client.force_login(viewer)

    def listed(query="", follow=False):
        page = client.get("/admin/campaigns/call/" + query, follow=follow).content.decode()
        return page, {
            c for c in ("919800000001", "919800000002", "628100000003", "628100000004") if c in page
        }

    page, shown = listed()
    assert len(shown) == 4
    totals = page[page.index('id="cost-totals"') : page.index('id="cost-totals"') + 300]
    assert "0.3 EUR" in totals and "0.3 USD" in totals
    assert listed("?q=V3")[1] == {"628100000003"}
    assert listed("?q=6281")[1] == {"628100000003", "628100000004"}
    assert listed("?q=%2B9198")[1] == {"919800000001", "919800000002"}
    assert listed("?q=0091-98%20000")[1] == {"919800000001", "919800000002"}  # the normaliser
    assert listed("?q=V")[1] == set()  # voiceId is matched exactly, not as a prefix
    assert listed("?answered=yes")[1] == {"919800000001"}
    assert listed("?answered=no")[1] == {"919800000002", "628100000003"}
    assert listed("?kind__exact=tts")[1] == {"628100000004"}
    page, shown = listed("?state__exact=final&currency=USD", follow=True)
    assert shown  # unknown params fall back to the plain list rather than erroring
    page, shown = listed("?state__exact=final")
    assert shown == {"919800000001", "919800000002", "628100000003"}
    totals = page[page.index('id="cost-totals"') : page.index('id="cost-totals"') + 300]
    assert "0.3 EUR" in totals


def test_refresh_button_fetches_the_record(client, operator, voice_app, sandbox, sandbox_state):
    from campaigns.services.actors import Actor
    from campaigns.services.calls import call_send_tts

    call = call_send_tts(
        app=voice_app, callee="919876543210", language="EN", text="hi", actor=Actor.system("t")
    )
    assert call.state == "submitted" and call.cost is None
    client.force_login(operator)
    response = client.post(f"/admin/campaigns/call/{call.pk}/refresh/", follow=True)
    call.refresh_from_db()
    assert call.state == "final" and call.cost is not None and call.hangup_time is not None
    assert call.record_source == "recordGroup"
    assert "refreshed: Final" in response.content.decode()


def test_verify_credentials_stores_balance_or_the_exact_reason(
    client, admin_user, account, sandbox, sandbox_state
):
    client.force_login(admin_user)
    url = f"/admin/campaigns/itnioaccount/{account.pk}/verify/"
    response = client.post(url, follow=True)
    account.refresh_from_db()
    assert account.balance == Decimal("500.00") and account.verified_at is not None
    assert "Credentials work. Balance 500.00 USD" in response.content.decode()
    page = client.get(f"/admin/campaigns/itnioaccount/{account.pk}/change/").content.decode()
    assert 'id="verify-credentials"' in page and ">500.00 USD<" in page  # with its currency

    ItnioAccount.objects.filter(pk=account.pk).update()
    account.api_secret = "wrong"
    account.save()
    response = client.post(url, follow=True)
    account.refresh_from_db()
    assert "Authentication" in account.verify_error or "-1" in account.verify_error
    assert "Credentials check failed" in response.content.decode()
    assert account.balance == Decimal("500.00")  # the last good balance is kept
    assert client.get(url).status_code == 405


def test_itnio_check_command(account, sandbox, capsys):
    call_command("itnio_check", "--app", "4luaKsL2")
    assert "Acme: OK balance=500.000000" in capsys.readouterr().out
    account.api_secret = "wrong"
    account.save()
    with pytest.raises(CommandError) as exc:
        call_command("itnio_check")
    assert exc.value.returncode == 1
    with pytest.raises(CommandError) as exc:
        call_command("itnio_check", "--app", "NOPE")
    assert exc.value.returncode == 2


def test_sync_records_now_runs_the_scheduler_task(
    client, operator, voice_app, sandbox, sandbox_state
):
    from campaigns.services.actors import Actor
    from campaigns.services.calls import call_send_tts

    call = call_send_tts(
        app=voice_app, callee="919876543210", language="EN", text="hi", actor=Actor.system("t")
    )
    client.force_login(operator)
    assert 'id="sync-records"' in client.get("/admin/campaigns/call/").content.decode()
    response = client.post("/admin/campaigns/call/sync/", follow=True)
    assert "Record sync queued" in response.content.decode()
    call.refresh_from_db()  # the immediate test backend ran the task
    assert call.state == "final" and call.record_source == "recordGroup"


def test_a_rejected_call_says_it_was_never_placed_not_that_its_record_is_awaited(
    client, operator, voice_app
):
    call = make_call(
        voice_app,
        state="rejected",
        callee="6591230000",
        termination_code="-22",
        termination_reason="invalid number (the sandbox rejects every number ending in 0000)",
    )
    client.force_login(operator)
    page = client.get(f"/admin/campaigns/call/{call.pk}/change/").content.decode()
    assert "ITNIO refused the number, the call was never placed" in page
    assert "Not known yet" not in page
    assert "the sandbox rejects every number ending in 0000" in page
