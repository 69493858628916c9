"""The API's campaign carries every field of the admin's campaign form: the calling window in
the callee's local time with its days and excluded dates, pacing, retries and the budget; a
PATCH changes what it names and keeps the rest of the draft."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest
from freezegun import freeze_time

from campaigns.admin.campaigns import DRAFT_FIELDS
from campaigns.models import Campaign
from tests.api.conftest import error_of
from tests.campaigns.conftest import add_callees
from tests.conftest import VOICE_APP_ID

pytestmark = pytest.mark.django_db


def _create(api, uploaded_file, **fields):
    body = {"name": "Local", "app": VOICE_APP_ID, "voice_file": uploaded_file.file_name}
    return api.post("/api/v1/campaigns/", {**body, **fields})


def test_window_pacing_retries_and_budget_are_set_through_the_api(operator_api, uploaded_file):
    created = _create(
        operator_api,
        uploaded_file,
        window_start="09:00",
        window_end="20:00",
        window_callee_local=True,
        fallback_zone="Asia/Singapore",
        calling_days=["mon", "tue", "wed", "thu", "fri"],
        excluded_dates=["2026-12-25", "2027-01-01"],
        rate_per_minute=120,
        retries=2,
        retry_after_minutes=30,
        budget_amount="6.00",
        budget_currency="eur",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(DRAFT_FIELDS) <= set(body)  # the admin form's fields, every one
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.window_callee_local and campaign.fallback_zone == "Asia/Singapore"
    assert campaign.window_days == 0b0011111 and body["calling_days"][-1] == "fri"
    assert campaign.skip_dates == ["2026-12-25", "2027-01-01"] == body["excluded_dates"]
    assert (campaign.rate_per_minute, campaign.retries, campaign.retry_after_minutes) == (
        120,
        2,
        30,
    )
    assert (campaign.budget_amount, campaign.budget_currency) == (Decimal("6"), "EUR")
    assert body["budget_currency"] == "EUR" and body["budget_billed"] == "0.000000"


def test_a_patch_keeps_the_window_days_and_dates_it_does_not_name(operator_api, uploaded_file):
    made = _create(
        operator_api,
        uploaded_file,
        window_start="09:00",
        window_end="17:00",
        calling_days=["sat", "sun"],
        excluded_dates=["2026-12-26"],
        retries=1,
    ).json()
    changed = operator_api.patch(f"/api/v1/campaigns/{made['id']}/", {"retries": 3})
    assert changed.status_code == 200, changed.content
    assert changed.json()["calling_days"] == ["sat", "sun"]
    assert changed.json()["excluded_dates"] == ["2026-12-26"] and changed.json()["retries"] == 3
    campaign = Campaign.objects.get(pk=made["id"])
    assert campaign.window_days == 0b1100000 and campaign.window_start.hour == 9


def test_the_form_s_rules_answer_per_field(operator_api, uploaded_file):
    """The same rules as the admin form: retries 0–5, both budget parts, a real zone name,
    a callee-local window needs its ends, at most 50 excluded dates."""
    answer = _create(
        operator_api,
        uploaded_file,
        retries=9,
        budget_amount="5.00",
        fallback_zone="Mars/Base",
        window_callee_local=True,
        calling_days=["someday"],
    )
    assert answer.status_code == 400
    fields = error_of(answer)["fields"]
    assert {"retries", "calling_days"} <= set(fields)
    answer = _create(operator_api, uploaded_file, budget_amount="5.00", fallback_zone="Mars/Base")
    fields = error_of(answer)["fields"]
    assert "budget_currency" in fields and "Mars/Base" in fields["fallback_zone"][0]
    answer = _create(operator_api, uploaded_file, window_callee_local=True)
    assert "window_callee_local" in error_of(answer)["fields"]
    many = [f"2027-01-{d:02d}" for d in range(1, 29)] + [f"2027-02-{d:02d}" for d in range(1, 26)]
    answer = _create(operator_api, uploaded_file, excluded_dates=many)
    assert "excluded_dates" in error_of(answer)["fields"]
    assert not Campaign.objects.exists()


def test_the_status_says_who_waits_for_their_window_and_when_it_opens(
    operator_api, uploaded_file, voice_app
):
    campaign = Campaign.objects.create(
        name="Evening",
        app=voice_app,
        voice_file=uploaded_file,
        window_start=time(9, 0),
        window_end=time(17, 0),
        window_tz="Asia/Singapore",
        state=Campaign.State.RUNNING,
    )
    add_callees(campaign, 3)
    with freeze_time("2026-12-02 12:00:00"):  # 20:00 in Singapore: closed
        status = operator_api.get(f"/api/v1/campaigns/{campaign.pk}/status/").json()
    assert status["waiting_for_window"] == [
        {"zones": "Asia/Singapore", "count": 3, "next_opens": "2026-12-03T01:00:00+00:00"}
    ]
    with freeze_time("2026-12-03 02:00:00"):  # 10:00 in Singapore: open
        status = operator_api.get(f"/api/v1/campaigns/{campaign.pk}/status/").json()
    assert status["waiting_for_window"] == []


def test_a_budget_is_set_raised_and_removed_through_the_api(
    operator_api, viewer_api, uploaded_file, voice_app
):
    campaign = Campaign.objects.create(name="Spend", app=voice_app, voice_file=uploaded_file)
    url = f"/api/v1/campaigns/{campaign.pk}/budget/"
    assert viewer_api.post(url, {"budget": "8.00 EUR"}).status_code == 403
    answer = operator_api.post(url, {"budget": "8.00 eur"})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["budget_amount"], answer.json()["budget_currency"]) == (
        "8.000000",
        "EUR",
    )
    bad = operator_api.post(url, {"budget": "eight euros"})
    assert bad.status_code == 400 and "budget" in error_of(bad)["fields"]
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.RUNNING)
    other = operator_api.post(url, {"budget": "9.00 USD"})
    assert other.status_code == 409 and "EUR" in error_of(other)["message"]
    assert operator_api.post(url, {"budget": "9.00 EUR"}).json()["budget_amount"] == "9.000000"
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.COMPLETED)
    assert operator_api.post(url, {"budget": None}).status_code == 409
    campaign.refresh_from_db()
    assert (campaign.budget_amount, campaign.budget_currency) == (Decimal("9"), "EUR")
