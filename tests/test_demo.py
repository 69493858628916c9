"""`manage.py portal_demo --seed-only`: the demo's data, idempotent."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management import call_command

from campaigns.models import Call, CallStatMark, ItnioAccount, ItnioApp
from campaigns.services.reports import CallSlice, call_figures


def test_the_demo_seed_makes_a_login_an_account_and_a_month_of_calls(db, capsys):
    call_command("portal_demo", "--seed-only")
    call_command("portal_demo", "--seed-only")  # a second start adds nothing

    assert User.objects.get(username="admin").check_password("itnio-demo")
    account = ItnioAccount.objects.get()
    assert set(ItnioApp.objects.values_list("kind", flat=True)) == {"voice", "ai"}
    assert Call.objects.count() == 3000
    assert not CallStatMark.objects.exists()  # the figures were computed
    figures = call_figures(CallSlice())
    assert figures["summary"]["Calls"] == 3000
    out = capsys.readouterr().out
    assert "Demo data ready." in out and "3,000 calls" in out
    assert account.api_secret not in out
