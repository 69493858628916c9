"""A/B tests of voice files, campaign templates (duplicate) and the per-callee results export,
as a user meets them: the commands, the campaign page, the sandbox's own requests as judge."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Callee, Campaign, Contact, ContactList, PushEvent, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.variants import bucket, variant_for
from campaigns.services.voice_files import voice_file_upload
from itnio_portal.itnio.sandbox.calls import ANSWERED
from tests.audio import wav_bytes
from tests.campaigns.conftest import add_callees
from tests.campaigns.test_retries import dispatch_later
from tests.conftest import apply_pushes

pytestmark = pytest.mark.django_db(transaction=True)
SEND = "/voice/sendGroup"


@pytest.fixture
def second_file(uploaded_file, voice_app):
    vf = VoiceFile(app=voice_app, file_name="promo-b.wav", size=16044, content_type="audio/wav")
    vf.audio.save("promo-b.wav", io.BytesIO(wav_bytes()), save=True)
    return voice_file_upload(voice_file=vf, actor=Actor.system("test"))


def create_ab(voice_app, *extra: str) -> Campaign:
    call_command(
        "create_campaign",
        "AB",
        "--app",
        voice_app.app_id,
        "--variant",
        "promo.wav:30",
        "--variant",
        "promo-b.wav:70",
        *extra,
    )
    return Campaign.objects.get(name="AB")


def test_each_variant_is_sent_in_batches_of_its_own_file_and_kept_across_retries(
    voice_app,
    uploaded_file,
    second_file,
    sandbox_state,
    settings,
    client,
    operator,
    monkeypatch,
    capsys,
):
    settings.ITNIO_SEND_GROUP_MAX = 20
    campaign = create_ab(voice_app, "--retries", "1", "--retry-after", "0")
    numbers = add_callees(campaign, 100)
    a, b = list(campaign.variants.order_by("position"))
    assert (a.voice_file, a.percent) == (uploaded_file, 30)
    assert (b.voice_file, b.percent) == (second_file, 70)
    capsys.readouterr()
    call_command("launch_campaign", "AB")  # the plan first
    plan = capsys.readouterr().out
    assert "Variant A:" in plan and "promo.wav, 30 % of the callees" in plan
    assert "promo-b.wav, 70 % of the callees" in plan
    assert "up to 1, 0 minutes after the previous attempt's hang-up" in plan
    call_command("launch_campaign", "AB", "--for-real", "--as", "operator")

    files = {uploaded_file.remote_file_id: a, second_file.remote_file_id: b}
    heard: dict[str, list] = {}
    for request in sandbox_state.requests_for(SEND):
        for number in request.body["callee"].split(","):
            heard.setdefault(number, []).append(files[request.body["fileId"]])
    assert sorted(heard) == sorted(numbers)
    assert all(heard[n] == [variant_for(n, [a, b])] for n in numbers)  # by the hash
    split = Counter(v.label for n in numbers for v in heard[n])
    assert 15 <= split["A"] <= 45 and split["A"] + split["B"] == 100
    assert set(Callee.objects.filter(campaign=campaign).values_list("variant", flat=True)) == {
        a.pk,
        b.pk,
    }

    # The records: the not-answered are retried with the file they heard the first time.
    sandbox_state.advance()
    bodies = [c.push_body() for c in sandbox_state.calls.values()]
    PushEvent.objects.create(app=voice_app, kind="voice", body=json.dumps(bodies))
    apply_pushes()
    missed = {c.callee for c in sandbox_state.calls.values() if c.life.outcome != ANSWERED}
    dispatch_later(campaign, monkeypatch)
    for request in sandbox_state.requests_for(SEND)[-10:]:
        for number in request.body["callee"].split(","):
            if len(heard[number]) == 1 and number in missed:
                heard[number].append(files[request.body["fileId"]])
    assert all(len(set(heard[n])) == 1 for n in numbers)
    assert {n for n in numbers if len(heard[n]) == 2} == missed

    client.force_login(operator)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="variant-comparison"' in page
    assert 'id="variant-A"' in page and 'id="variant-B"' in page
    assert "promo-b.wav" in page and "cost per answered callee" in page
    assert f'id="figure-attempts">{100 + len(missed)}<' in page
    dashboard = client.get(f"/admin/campaigns/call/dashboard/csv/?campaign={campaign.pk}")
    rows = list(csv.reader(io.StringIO(dashboard.content.decode())))
    by_variant = {(r[1], r[2]): r[3] for r in rows if r[0] == "variants"}
    assert by_variant[("callees", "A promo.wav")] == str(split["A"])
    assert by_variant[("callees", "B promo-b.wav")] == str(split["B"])
    assert by_variant[("attempts", "A promo.wav")] == str(
        split["A"] + len([n for n in missed if heard[n][0] == a])
    )


def test_the_hash_is_the_same_in_python_and_in_sql(voice_app, uploaded_file, second_file):
    campaign = create_ab(voice_app)
    numbers = add_callees(campaign, 300, start=6591230000)
    from campaigns.services.variants import assign_variants

    assert assign_variants(campaign) == 300
    variants = list(campaign.variants.order_by("position"))
    stored = dict(Callee.objects.filter(campaign=campaign).values_list("number", "variant"))
    assert all(stored[n] == variant_for(n, variants).pk for n in numbers)
    assert 0 <= min(map(bucket, numbers)) and max(map(bucket, numbers)) <= 99


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        (["promo.wav:50", "promo-b.wav:40"], "sum to 90 percent, not 100"),
        (["promo.wav:100"], "2 to 4 variants, not 1"),
        (["promo.wav:50", "promo.wav:50"], "a different voice file"),
        (["promo.wav:50", "nope.wav:50"], "no voice file named 'nope.wav'"),
        (["promo.wav-50", "promo-b.wav:50"], "FILE:PERCENT"),
    ],
)
def test_bad_variants_are_refused_with_the_reason(
    voice_app, uploaded_file, second_file, variants, message
):
    args = [a for v in variants for a in ("--variant", v)]
    with pytest.raises(CommandError, match=message):
        call_command("create_campaign", "Bad", "--app", voice_app.app_id, *args)
    assert not Campaign.objects.filter(name="Bad").exists()


def test_voice_file_or_variants_and_retries_in_range(voice_app, uploaded_file, capsys):
    with pytest.raises(CommandError, match="either --voice-file or two to four --variant"):
        call_command("create_campaign", "X", "--app", voice_app.app_id)
    with pytest.raises(CommandError, match="--retries: 0 to 5"):
        call_command(
            "create_campaign", "X", "--app", voice_app.app_id, "--voice-file", "promo.wav",
            "--retries", "6",
        )  # fmt: skip
    call_command(
        "create_campaign", "X", "--app", voice_app.app_id, "--voice-file", "promo.wav",
        "--retries", "2", "--retry-after", "30", "--frequency-cap", "1/24",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "Retries: up to 2, 30 minutes after the previous attempt's hang-up." in out
    assert "Warning: The frequency cap (1 calls within 24 hours) counts every attempt" in out


def test_duplicate_copies_every_setting_and_no_callee(
    voice_app, uploaded_file, second_file, capsys, client, operator
):
    gold = ContactList.objects.create(name="Gold")
    Contact.objects.create(contact_list=gold, number="6591230001", fields={"tier": "gold"})
    campaign = create_ab(
        voice_app, "--retries", "2", "--retry-after", "45", "--contacts", "Gold",
        "--segment", "tier=gold", "--opt-out-key", "9", "--frequency-cap", "3/24",
        "--display-num", "1008122211", "--called-info", "spring",
    )  # fmt: skip
    Campaign.objects.filter(pk=campaign.pk).update(
        window_start="09:00", window_end="20:00", window_tz="Asia/Singapore", state="completed"
    )
    add_callees(campaign, 5)
    capsys.readouterr()
    call_command("duplicate_campaign", "AB", "AB again")
    assert "Created draft campaign AB again" in capsys.readouterr().out
    copy = Campaign.objects.get(name="AB again")
    campaign.refresh_from_db()
    for name in (
        "app_id", "voice_file_id", "display_num", "called_info", "segment_field",
        "segment_value", "frequency_cap_calls", "frequency_cap_hours", "opt_out_key",
        "retries", "retry_after_minutes", "window_start", "window_end", "window_tz",
    ):  # fmt: skip
        assert getattr(copy, name) == getattr(campaign, name), name
    assert copy.state == "draft" and copy.launched_at is None
    assert list(copy.contact_lists.all()) == [gold]
    assert [(v.voice_file_id, v.percent) for v in copy.variants.order_by("position")] == [
        (v.voice_file_id, v.percent) for v in campaign.variants.order_by("position")
    ]
    assert not copy.callees.exists() and campaign.callees.count() == 5

    with pytest.raises(CommandError, match="A campaign named 'AB' exists already"):
        call_command("duplicate_campaign", "AB again", "AB")
    with pytest.raises(CommandError, match="No campaign named 'Nope'"):
        call_command("duplicate_campaign", "Nope", "Other")

    client.force_login(operator)
    response = client.post(
        "/admin/campaigns/campaign/",
        {"action": "duplicate_selected", "_selected_action": [campaign.pk]},
    )
    copy2 = Campaign.objects.get(name="AB (copy)")
    assert response.status_code == 302 and response["Location"].endswith(f"/{copy2.pk}/change/")
    assert copy2.retries == 2 and copy2.variants.count() == 2 and copy2.state == "draft"


def test_viewer_cannot_duplicate(voice_app, uploaded_file, client, viewer):
    campaign = Campaign.objects.create(name="Solo", app=voice_app, voice_file=uploaded_file)
    client.force_login(viewer)
    client.post(
        "/admin/campaigns/campaign/",
        {"action": "duplicate_selected", "_selected_action": [campaign.pk]},
    )
    assert Campaign.objects.count() == 1


def test_the_results_export_has_a_row_per_callee(
    campaign, sandbox_state, client, viewer, monkeypatch
):
    from campaigns.services.calls import calls_sync_due

    vip = ContactList.objects.create(name="VIP")
    Contact.objects.create(
        contact_list=vip, number="919800000001", name="Asha", fields={"city": "=Pune"}
    )
    campaign.contact_lists.add(vip)
    Campaign.objects.filter(pk=campaign.pk).update(
        state="running", retries=1, retry_after_minutes=0, opt_out_key="5"
    )
    from campaigns.services import dispatch

    dispatch.campaign_dispatch(campaign.pk)
    calls_sync_due(actor=Actor.system("test"))
    client.force_login(viewer)
    response = client.get(f"/admin/campaigns/campaign/{campaign.pk}/results/")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 35
    assert list(rows[0]) == [
        "number", "name", "city", "attempts", "outcome", "dtmf_key", "opted_out", "cost",
        "currency", "variant",
    ]  # fmt: skip
    first = next(r for r in rows if r["number"] == "919800000001")
    assert first["name"] == "Asha" and first["city"] == "'=Pune"  # never a formula
    outcomes = Counter(r["outcome"] for r in rows)
    missed = {c.callee for c in sandbox_state.calls.values() if c.life.outcome != ANSWERED}
    assert outcomes["Waiting (retry)"] == len(missed)
    assert outcomes["reached"] == 35 - len(missed)
    assert all(r["attempts"] == "1" for r in rows)
    assert all(r["cost"] and r["currency"] == "USD" for r in rows if r["outcome"] == "reached")
    xlsx = client.get(f"/admin/campaigns/campaign/{campaign.pk}/results/xlsx/")
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd")
    bad = client.get(f"/admin/campaigns/campaign/{campaign.pk}/results/pdf/")
    assert bad.status_code == 400 and b"use csv or xlsx" in bad.content


def test_the_admin_form_checks_retries_and_variants(
    client, operator, voice_app, uploaded_file, second_file
):
    client.force_login(operator)
    base = {
        "name": "Form",
        "app": voice_app.pk,
        "voice_file": uploaded_file.pk,
        "window_tz": "UTC",
        "retries": "6",
        "retry_after_minutes": "10",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "0",
        "variants-0-position": "1",
        "variants-0-voice_file": uploaded_file.pk,
        "variants-0-percent": "50",
        "variants-1-position": "2",
        "variants-1-voice_file": second_file.pk,
        "variants-1-percent": "40",
    }
    page = client.post("/admin/campaigns/campaign/add/", base).content.decode()
    assert "less than or equal to 5" in page
    assert "sum to 90 percent, not 100" in page
    assert not Campaign.objects.filter(name="Form").exists()
    base.update(
        {
            "retries": "2",
            "variants-1-percent": "50",
            "frequency_cap_calls": "1",
            "frequency_cap_hours": "24",
        }
    )
    response = client.post("/admin/campaigns/campaign/add/", base, follow=True)
    campaign = Campaign.objects.get(name="Form")
    assert campaign.retries == 2 and campaign.variants.count() == 2
    assert "counts every attempt" in response.content.decode()
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "Retried: a callee whose final record has no answer time" in page
