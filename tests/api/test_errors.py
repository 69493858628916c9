"""One error shape for every refusal; hostile input is a 400, never a server error; no secret
in any answer."""

from __future__ import annotations

import json

import pytest

from campaigns.models import ItnioAccount, SuppressionEntry
from tests.api.conftest import ApiClient, error_of
from tests.conftest import API_KEY, API_SECRET

pytestmark = pytest.mark.django_db


def test_without_a_token_401_names_the_scheme(db):
    response = ApiClient(None).get("/api/v1/campaigns/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Token nope", "Token itnio_x y", "Token itnio_" + "a" * 300])
def test_a_wrong_token_is_401(db, header):
    response = ApiClient(None).get("/api/v1/campaigns/", headers={"Authorization": header})
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_403_names_the_permission(viewer_api):
    response = viewer_api.post("/api/v1/dnc/", {"numbers": ["+6591234567"]})
    assert response.status_code == 403
    error = error_of(response)
    assert error["permission"] == "campaigns.add_suppressionentry"
    assert "campaigns.add_suppressionentry" in error["message"]


def test_404_for_any_id(operator_api):
    for path in (
        "/api/v1/campaigns/999/",
        "/api/v1/campaigns/99999999999999999999999/",
        "/api/v1/calls/9223372036854775808/",
        "/api/v1/nowhere/",
    ):
        response = operator_api.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"


def test_a_path_without_its_slash_is_a_json_404_not_a_redirect(operator_api):
    for method in ("GET", "POST"):
        response = operator_api.raw(method, "/api/v1/campaigns", b"{}")
        assert response.status_code == 404
        assert "slash" in error_of(response)["message"]
    assert ApiClient(None).get("/api/v1/nowhere/").status_code == 404


def test_400_names_each_field(operator_api, voice_app):
    response = operator_api.post("/api/v1/campaigns/", {"name": "", "loop_count": "many"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert {"name", "loop_count", "app", "voice_file"} <= set(error["fields"])
    assert all(isinstance(m, str) for m in error["fields"]["loop_count"])


def test_head_is_allowed_where_get_is(viewer_api):
    assert viewer_api.raw("HEAD", "/api/v1/campaigns/", b"").status_code == 200
    assert viewer_api.raw("HEAD", "/api/v1/calls/tts/", b"").status_code == 405


def test_405_for_a_method_the_endpoint_has_not(operator_api):
    response = operator_api.raw("DELETE", "/api/v1/campaigns/", b"")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


HOSTILE = {
    "10,000 levels deep": b"[" * 10_000 + b"]" * 10_000,
    "deep objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "30 levels (over the limit)": b"[" * 30 + b"]" * 30,
    "a huge integer": b'{"numbers": [' + b"9" * 5000 + b"]}",
    "a 20-digit integer": b'{"numbers": ["1"], "expires_at": 99999999999999999999}',
    "an infinite float": b'{"numbers": [1e999]}',
    "NaN": b'{"numbers": [NaN]}',
    "a NUL character": b'{"numbers": ["6591\\u00002345"]}',
    "a NUL in a key": b'{"numb\\u0000ers": ["6591234567"]}',
    "not UTF-8": b'{"numbers": ["\xff\xfe"]}',
    "truncated": b'{"numbers": [',
    "a bare string": b'"numbers"',
    "a list": b'["6591234567"]',
    "a lone surrogate": b'{"numbers": ["\\ud800"]}',
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_json_is_a_400_and_writes_nothing(operator_api, name):
    response = operator_api.raw("POST", "/api/v1/dnc/", HOSTILE[name])
    assert response.status_code == 400, (name, response.content[:300])
    error = error_of(response)
    assert error["message"]
    assert len(response.content) < 5000  # the input is not echoed back whole
    assert not SuppressionEntry.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {"campaign": "99999999999999999999999"},
        {"campaign": "-1"},
        {"placed_from": "yesterday"},
        {"kind": "nope"},
        {"q": "x" * 500},
        {"cursor": "garbage"},
        {"page_size": "99999999999999999999"},
        {"app": "\x00"},
    ],
)
def test_bad_filters_are_400_or_ignored_never_500(operator_api, params):
    response = operator_api.get("/api/v1/calls/", params)
    assert response.status_code in (200, 400, 404), response.content[:300]
    if response.status_code != 200:
        error_of(response)


@pytest.mark.parametrize("path", ["/api/v1/dnc/", "/api/v1/calls/", "/api/v1/campaigns/"])
def test_a_nul_in_any_query_value_is_a_400(operator_api, path):
    for params in ({"list": "a\x00b"}, {"number": "\x00"}, {"q": "\x00"}, {"x\x00": "1"}):
        response = operator_api.get(path, params)
        assert response.status_code == 400, (path, params)
        assert "NUL" in error_of(response)["message"]


def test_a_contact_file_name_with_control_characters_is_stored_without_them(operator_api):
    import io

    pk = operator_api.post("/api/v1/contact-lists/", {"name": "Nul"}).json()["id"]
    upload = io.BytesIO(b"phone\n+6591000001\n")
    upload.name = "a\x00b\x07.csv"
    response = operator_api.post(
        f"/api/v1/contact-lists/{pk}/imports/", {"file": upload}, multipart=True
    )
    assert response.status_code == 202, response.content
    assert response.json()["original_name"] == "ab.csv"


def test_no_secret_in_any_answer(admin_api, account):
    ItnioAccount.objects.filter(pk=account.pk).update(balance="12.5")
    answers = [
        admin_api.get("/api/v1/accounts/"),
        admin_api.get(f"/api/v1/accounts/{account.pk}/"),
        admin_api.get("/api/v1/apps/"),
    ]
    push_tokens = list(account.apps.values_list("push_token", flat=True))
    for response in answers:
        assert response.status_code == 200
        text = response.content.decode()
        for secret in (API_SECRET, API_KEY, *push_tokens):
            assert secret not in text
    assert json.loads(answers[1].content)["balance"] == "12.500000"
