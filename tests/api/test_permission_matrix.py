"""The API's permission matrix, generated from the URL resolver: every endpoint under /api/v1/,
every method, five identities. What each needs is read from beside the view (its
`permissions` declaration, campaigns/api/permissions.py), so a new endpoint is covered the day
it is added. Refused requests answer 401 / 403 naming the permission / 405 and never reach
ITNIO; allowed ones are not refused (their answer may still be 400 or 409 for the empty body).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from campaigns.models import (
    AiTask,
    Call,
    Campaign,
    ContactImport,
    ContactList,
    ItnioAccount,
    VoiceFile,
    WebhookSubscription,
)
from tests.admin_objects import one_of_each
from tests.api.conftest import ApiClient, client_for, error_of
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db(transaction=True)

IDENTITIES = ["anonymous", "staff without a group", "Viewer", "Operator", "Admin"]
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
PUBLIC = {"schema", "docs"}  # what the API offers, no data: like the login page
NOT_FOUND = "not-found"  # every other path: a 404 in the API's shape
#: The object a URL's <pk> names, by the URL's name prefix (a new one fails the test: add it).
OBJECTS = {
    "account": ItnioAccount,
    "voice-file": VoiceFile,
    "contact-list": ContactList,
    "contact-import": ContactImport,
    "campaign": Campaign,
    "call": Call,
    "ai-task": AiTask,
    "webhook": WebhookSubscription,
}


@dataclass
class Endpoint:
    name: str
    route: str
    view: Any
    takes_pk: bool


def api_endpoints() -> list[Endpoint]:
    found = []
    for top in get_resolver().url_patterns:
        if isinstance(top, URLResolver) and top.namespace == "api":
            for entry in top.url_patterns:
                assert isinstance(entry, URLPattern)
                if entry.name == NOT_FOUND:
                    continue
                view = getattr(entry.callback, "cls", None) or getattr(
                    entry.callback, "view_class", None
                )
                found.append(
                    Endpoint(
                        entry.name, str(entry.pattern), view, "pk" in entry.pattern.regex.groupindex
                    )
                )
    return found


def _model_for(endpoint: Endpoint) -> Any:
    for prefix in sorted(OBJECTS, key=len, reverse=True):
        if endpoint.name.startswith(prefix):
            return OBJECTS[prefix]
    pytest.fail(f"{endpoint.route}: say which object its <pk> names (OBJECTS)")


def test_every_endpoint_declares_what_each_method_needs():
    known = {
        f"{app}.{code}"
        for app, code in Permission.objects.values_list("content_type__app_label", "codename")
    }
    endpoints = api_endpoints()
    assert len(endpoints) >= 25
    for endpoint in endpoints:
        if endpoint.name in PUBLIC:
            continue
        declared = getattr(endpoint.view, "permissions", None)
        assert declared, f"{endpoint.route} declares no permissions"
        for method, needed in declared.items():
            assert method in METHODS and needed, (endpoint.route, method)
            assert set(needed) <= known, (endpoint.route, set(needed) - known)


def test_spending_endpoints_need_place_calls():
    spending = {
        "campaign-launch",
        "campaign-pause",
        "campaign-resume",
        "campaign-cancel",
        "calls-tts",
        "ai-task-start",
        "voice-files",
        "voice-file-upload",
    }
    for endpoint in api_endpoints():
        if endpoint.name in spending:
            assert "campaigns.place_calls" in endpoint.view.permissions["POST"], endpoint.route


def _client(identity: str) -> tuple[ApiClient, Any]:
    if identity == "anonymous":
        return ApiClient(None), None
    role = None if identity == "staff without a group" else identity
    user = make_staff(f"matrix-{identity.replace(' ', '-').lower()}", role)
    return client_for(user, "matrix"), user


@pytest.mark.parametrize("identity", IDENTITIES)
def test_permission_matrix(identity, account, sandbox, sandbox_state):
    rows = one_of_each(account)
    client, user = _client(identity)
    failures = []
    # Steering last: a cancelled campaign changes what later requests see (still not refused).
    endpoints = sorted(api_endpoints(), key=lambda e: e.name.startswith("campaign-"))
    for endpoint in endpoints:
        kwargs = {"pk": rows[_model_for(endpoint)].pk} if endpoint.takes_pk else {}
        url = reverse(f"api:{endpoint.name}", kwargs=kwargs)
        for method in METHODS:
            before = len(sandbox_state.requests_for())
            response = client.raw(method, url, b"{}" if method in ("POST", "PATCH", "PUT") else b"")
            status = response.status_code
            reached = len(sandbox_state.requests_for()) > before
            where = f"{identity} {method} {url}"
            if status >= 500:
                failures.append(f"{where}: {status}")
                continue
            if endpoint.name in PUBLIC:
                if method == "GET" and status != 200:
                    failures.append(f"{where}: {status}, expected 200 (public)")
                continue
            needed = endpoint.view.permissions.get(method)
            if user is None:
                expect_refusal = 401
            elif needed is None:
                expect_refusal = 405
            else:
                missing = [p for p in needed if not user.has_perm(p)]
                expect_refusal = 403 if missing else None
            if expect_refusal is None:
                if status in (401, 403, 405):
                    failures.append(f"{where}: {status}, expected to be allowed")
                continue
            if status != expect_refusal:
                failures.append(f"{where}: {status}, expected {expect_refusal}")
            elif expect_refusal == 403 and error_of(response).get("permission") != missing[0]:
                failures.append(f"{where}: 403 does not name {missing[0]}")
            if reached:
                failures.append(f"{where}: refused, but reached ITNIO")
    assert failures == [], "\n".join(failures)
    if identity in ("anonymous", "staff without a group", "Viewer"):
        assert sandbox_state.requests_for() == [], "a read-only identity reached ITNIO"
