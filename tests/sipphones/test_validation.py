"""Every rule of a SIP group (itnio-api.md §3.9), checked by the form before anything is sent."""

from __future__ import annotations

import pytest

from campaigns.models import ItnioApp
from sipphones.forms import SipGroupForm
from sipphones.models import SipGroup

from .conftest import make_group

pytestmark = pytest.mark.django_db
ADD_URL = "/admin/sipphones/sipgroup/add/"


def data(app, **overrides):
    values = {
        "app": app.pk,
        "group_name": "sales",
        "phone_name": "desk",
        "quantity": "3",
        "display_num": "861000000",
    }
    values.update(overrides)
    return values


def errors(app, **overrides) -> dict[str, list[str]]:
    form = SipGroupForm(data(app, **overrides))
    form.is_valid()
    return form.errors


@pytest.mark.parametrize("field", ["group_name", "phone_name"])
@pytest.mark.parametrize(
    ("length", "ok"),
    [(3, False), (4, True), (32, True), (33, False)],
)
def test_names_are_4_to_32_characters(voice_app, field, length, ok):
    found = errors(voice_app, **{field: "n" * length})
    if ok:
        assert field not in found
    else:
        label = field.replace("_", " ")
        assert found[field] == [f"The {label} must be 4–32 characters (got {length} characters)."]


def test_seed_004s_three_character_phone_name_is_refused_by_the_documented_rule(voice_app):
    # Seed 004 sends phoneName "sip"; its own table says 4-32: the portal keeps to the table.
    assert "4–32 characters" in errors(voice_app, phone_name="sip")["phone_name"][0]


@pytest.mark.parametrize(("quantity", "ok"), [(0, False), (1, True), (50, True), (51, False)])
def test_quantity_is_1_to_50(voice_app, quantity, ok):
    found = errors(voice_app, quantity=str(quantity))
    if ok:
        assert "quantity" not in found
    else:
        assert found["quantity"] == [
            f"The quantity must be an integer from 1 to 50 (got {quantity})."
        ]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("123456", False),
        ("1234567", True),
        ("1234567890123", True),
        ("12345678901234", False),
        ("86100abc0", False),
        ("٨٦١٠٠٠٠٠٠", False),  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_display_number_is_7_to_13_digits(voice_app, value, ok):
    found = errors(voice_app, display_num=value)
    if ok:
        assert "display_num" not in found
    else:
        (message,) = found["display_num"]
        assert message.startswith("The display number must be 7–13 digits (got ")


def test_display_number_loses_spaces_dashes_and_plus(voice_app):
    form = SipGroupForm(data(voice_app, display_num="+86 100-000 0"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["display_num"] == "861000000"


def test_quantity_must_be_a_whole_number(voice_app):
    assert errors(voice_app, quantity="two")["quantity"] == ["Enter a whole number."]


def test_names_are_unique_within_the_app(account, voice_app):
    make_group(voice_app)
    found = errors(voice_app)
    assert found["group_name"] == [
        f"App {voice_app.app_id} already has a SIP group with the group name 'sales'; the "
        "group name must be unique within the app."
    ]
    assert "phone name must be unique within the app" in found["phone_name"][0]
    assert "phone_name" not in errors(voice_app, phone_name="booth")
    assert "group_name" not in errors(voice_app, group_name="support")
    # Another app has its own names.
    other = ItnioApp.objects.create(account=account, app_id="otherApp", label="Other")
    assert SipGroupForm(data(other)).is_valid()


def test_editing_a_group_keeps_its_own_names(voice_app):
    group = make_group(voice_app)
    form = SipGroupForm(data(voice_app, quantity="5"), instance=group)
    assert form.is_valid(), form.errors


def test_only_voice_apps_are_offered(account, voice_app):
    form = SipGroupForm()
    assert list(form.fields["app"].queryset) == [voice_app]
    ai = account.apps.get(kind="ai")
    assert "app" in errors(ai)


def test_the_admin_form_shows_the_rules_and_stores_nothing_invalid(
    client, operator, voice_app, sandbox, sandbox_state
):
    client.force_login(operator)
    response = client.post(
        ADD_URL,
        data(voice_app, group_name="abc", phone_name="p" * 33, quantity="51", display_num="12"),
    )
    page = response.content.decode()
    assert response.status_code == 200
    for rule in (
        "The group name must be 4–32 characters (got 3 characters).",
        "The phone name must be 4–32 characters (got 33 characters).",
        "The quantity must be an integer from 1 to 50 (got 51).",
        "The display number must be 7–13 digits (got &quot;12&quot;).",
    ):
        assert rule in page
    assert SipGroup.objects.count() == 0
    assert sandbox_state.requests_for("/voice/sipAdd") == []


def test_saving_the_form_sends_nothing(client, operator, voice_app, sandbox, sandbox_state):
    client.force_login(operator)
    response = client.post(ADD_URL, {**data(voice_app), "_continue": "1"})
    assert response.status_code == 302
    group = SipGroup.objects.get()
    assert (group.state, group.quantity, group.display_num) == ("draft", 3, "861000000")
    assert sandbox_state.requests_for("/voice/sipAdd") == []


def test_display_number_is_read_with_the_one_normaliser(voice_app):
    form = SipGroupForm(data(voice_app, display_num="+65 9123-4567"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["display_num"] == "6591234567"
