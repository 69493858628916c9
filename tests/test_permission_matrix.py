"""The standing permission matrix (issue 12): every admin URL from the URL resolver and every list
action from the admin registry, for five identities, GET and POST with valid CSRF tokens.

What each needs is read from beside the view: a custom view's `@requires(...)` declaration
(campaigns/admin/access.py), a list action's `permissions=[...]`, Django's own rules for its
standard admin views and site pages (the tables below). A custom URL or an action that declares
nothing fails the test, so a new page is covered the day it is added. Refused requests answer 403
(anonymous ones go to the login page) and never reach the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from campaigns.admin.access import Access, LeastPrivilegeMixin
from campaigns.models import ItnioApp
from tests.admin_objects import one_of_each
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

IDENTITIES = ["anonymous", "staff without a group", "Viewer", "Operator", "Admin"]
OBJECT_KWARGS = {"pk", "object_id", "id"}
# Sample values of the string parts of custom URLs (an unknown name fails the test: add one).
SAMPLES = {"verb": "pause", "fmt": "csv", "app_label": "campaigns", "url": "no-such-page/"}

# Django's standard ModelAdmin views: method -> the has_<name>_permission(request, obj) needed.
STANDARD = {
    "changelist_view": {"GET": "view"},  # its POSTs are list actions, checked below
    "add_view": {"GET": "add", "POST": "add"},
    "change_view": {"GET": "view_or_change", "POST": "change"},
    "history_view": {"GET": "view_or_change", "POST": "view_or_change"},
    "delete_view": {"GET": "delete", "POST": "delete"},
}
OK = {200, 302}
GONE = {302, 404}  # an object an earlier request of the run removed (a delete, a cascade)


@dataclass
class Expect:
    allowed: bool
    statuses: set[int]  # when allowed


def _site_rules(user: Any) -> dict[str, dict[str, Expect]]:
    """Django's AdminSite pages, for a logged-in staff user."""
    has_app = user.has_module_perms("campaigns")
    return {
        "index": {m: Expect(True, {200}) for m in ("GET", "POST")},
        "login": {"GET": Expect(True, {302}), "POST": Expect(True, {200})},
        "logout": {"GET": Expect(True, {405}), "POST": Expect(True, {200})},
        "password_change": {m: Expect(True, {200}) for m in ("GET", "POST")},
        "password_change_done": {"GET": Expect(True, {200}), "POST": Expect(True, {405})},
        "autocomplete": {"GET": Expect(False, set()), "POST": Expect(True, {405})},
        "jsi18n": {"GET": Expect(True, {200}), "POST": Expect(True, {405})},
        "view_on_site": {m: Expect(True, {404}) for m in ("GET", "POST")},  # no public pages
        "app_list": {m: Expect(True, {200 if has_app else 404}) for m in ("GET", "POST")},
        "catch_all": {m: Expect(True, {404}) for m in ("GET", "POST")},
    }


@dataclass
class Endpoint:
    route: str
    name: str
    model_admin: Any  # None for the site's own pages
    view: str  # the ModelAdmin method name, or the site page's name
    access: Access | None
    kwargs: set[str]


def _bound_method(callback: Callable) -> Any:
    seen = callback
    while seen is not None:
        if hasattr(seen, "__self__") and hasattr(seen, "__func__"):
            return seen
        seen = getattr(seen, "__wrapped__", None)
    return None


def _kwarg_names(pattern: URLPattern) -> set[str]:
    return set(pattern.pattern.regex.groupindex)  # route and regex patterns alike


def admin_endpoints() -> list[Endpoint]:
    """Every URL under the admin, from the resolver."""
    found = []
    for top in get_resolver().url_patterns:
        if not (isinstance(top, URLResolver) and top.app_name == "admin"):
            continue
        for entry in top.url_patterns:
            if isinstance(entry, URLPattern):
                name = entry.name or "catch_all"
                found.append(
                    Endpoint(str(entry.pattern), name, None, name, None, _kwarg_names(entry))
                )
                continue
            app_label, model_name = str(entry.pattern).strip("/").split("/")
            model_admin = admin.site._registry[_model(app_label, model_name)]
            for pattern in entry.url_patterns:
                method = _bound_method(pattern.callback)
                view = method.__func__.__name__ if method is not None else "redirect"
                found.append(
                    Endpoint(
                        str(entry.pattern) + str(pattern.pattern),
                        pattern.name or "",
                        model_admin,
                        view,
                        getattr(pattern.callback, "portal_access", None),
                        _kwarg_names(pattern),
                    )
                )
    return found


def _model(app_label: str, model_name: str) -> Any:
    from django.apps import apps

    return apps.get_model(app_label, model_name)


def test_every_custom_admin_url_and_action_declares_what_it_needs():
    undeclared = [
        e.route
        for e in admin_endpoints()
        if e.model_admin is not None
        and e.view not in STANDARD
        and e.view != "redirect"
        and e.access is None
    ]
    assert undeclared == [], f"custom admin views without @requires(...): {undeclared}"
    actions = [
        f"{type(ma).__name__}.{name}"
        for ma in admin.site._registry.values()
        if isinstance(ma, LeastPrivilegeMixin)  # others: closed to every role (the matrix)
        for func, name, _ in ma._get_base_actions()
        if getattr(func, "allowed_permissions", None) is None
    ]
    assert actions == [], f"list actions without permissions=[...]: {actions}"


class Run:
    """One identity's pass over the matrix."""

    def __init__(self, identity: str, rows: dict, sandbox_state: Any) -> None:
        self.identity, self.rows, self.sandbox = identity, rows, sandbox_state
        self.client = Client(enforce_csrf_checks=True)
        self.user = None
        if identity != "anonymous":
            role = None if identity == "staff without a group" else identity
            self.user = make_staff(f"matrix-{identity.split()[0].lower()}", role)
            self.client.force_login(self.user)
        self.csrf = _get_new_csrf_string()
        self.client.cookies[settings.CSRF_COOKIE_NAME] = self.csrf
        self.failures: list[str] = []
        self.seen: list[tuple[str, str, int]] = []
        self.requests = 0

    def request(self) -> Any:
        request = RequestFactory().get("/")
        request.user = self.user
        return request

    def send(self, method: str, url: str, expect: Expect, data: dict | None = None) -> None:
        before = len(self.sandbox.requests_for())
        self.requests += 1
        if method == "GET":
            response = self.client.get(url)
        else:
            response = self.client.post(url, {**(data or {}), "csrfmiddlewaretoken": self.csrf})
        status = response.status_code
        self.seen.append((method, url, status))
        where = f"{self.identity} {method} {url}"
        if self.user is None:
            to_login = status == 302 and response["Location"].startswith(reverse("admin:login"))
            login_page = url == reverse("admin:login") and status == 200
            logout = url == reverse("admin:logout") and status == 302
            if not (to_login or login_page or logout):
                self.failures.append(f"{where}: {status}, not sent to the login page")
        elif not expect.allowed:
            if status != 403:
                self.failures.append(f"{where}: {status}, expected 403")
        elif status not in expect.statuses:
            self.failures.append(f"{where}: {status}, expected one of {sorted(expect.statuses)}")
        if self.user is None or not expect.allowed:
            if len(self.sandbox.requests_for()) != before:
                self.failures.append(f"{where}: refused, yet it reached the sandbox")

    # --- what is expected ----------------------------------------------------------------
    def url_for(self, endpoint: Endpoint) -> str:
        model = endpoint.model_admin.model if endpoint.model_admin else None
        kwargs = {}
        for name in endpoint.kwargs:
            if name in OBJECT_KWARGS and model is not None:
                kwargs[name] = self._row(model).pk
            elif name == "content_type_id":
                kwargs[name] = ContentType.objects.get_for_model(ItnioApp).pk
            elif name == "object_id":
                kwargs[name] = self.rows[ItnioApp].pk
            elif name in SAMPLES:
                kwargs[name] = SAMPLES[name]
            else:
                pytest.fail(f"{endpoint.route}: no sample value for <{name}>; add one to SAMPLES")
        if endpoint.view == "redirect":
            opts = model._meta
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", kwargs=kwargs)
            return change.removesuffix("change/")
        if endpoint.name == "catch_all":
            return reverse("admin:index") + SAMPLES["url"]
        return reverse(f"admin:{endpoint.name}", kwargs=kwargs)

    def _row(self, model: Any) -> Any:
        if model not in self.rows:
            if model._meta.app_label in {"campaigns", "sipphones"}:
                pytest.fail(f"add a {model.__name__} row to tests/admin_objects.py")
            return model(pk=1)  # not the portal's: refused before any lookup
        return self.rows[model]

    def expect(self, endpoint: Endpoint, method: str) -> Expect | None:
        if self.user is None:
            return Expect(False, set())
        if endpoint.model_admin is None:
            return _site_rules(self.user)[endpoint.name].get(method)
        ma, request = endpoint.model_admin, self.request()
        if endpoint.view == "redirect":
            return Expect(True, {302}) if ma.has_view_or_change_permission(request) else None
        if endpoint.view in STANDARD:
            needed = STANDARD[endpoint.view].get(method)
            if needed is None:
                return None
            row = self.rows.get(ma.model)
            if row is None and endpoint.view != "add_view":
                # Not the portal's and no such row: refused, or "no such object" (to the index).
                return Expect(True, {302, 403})
            obj = (
                None
                if endpoint.view == "add_view"
                else ma.model.objects.filter(pk=row.pk).first()
                if row is not None
                else None
            )
            if obj is None and endpoint.view != "add_view" and row is not None:
                return (
                    Expect(True, GONE) if ma.has_view_permission(request) else Expect(False, set())
                )
            check = getattr(ma, f"has_{needed}_permission")
            allowed = check(request) if endpoint.view == "add_view" else check(request, obj)
            return Expect(allowed, OK)
        allowed = ma.has_permissions(request, endpoint.access.permissions)
        if allowed and method not in endpoint.access.methods:
            return Expect(True, {405})
        # 404: a page that needs a query string it was not given (a preview's signed token).
        return Expect(allowed, OK | {404})


def _is_last(endpoint: Endpoint, method: str) -> int:
    """Requests that change what later ones see go last: deletes, then logging out."""
    if method == "POST" and endpoint.name == "logout":
        return 2
    return 1 if method == "POST" and endpoint.view == "delete_view" else 0


@pytest.mark.parametrize("identity", IDENTITIES)
def test_permission_matrix(identity, account, sandbox, sandbox_state):
    rows = one_of_each(account)
    run = Run(identity, rows, sandbox_state)
    plan = [(e, m) for e in admin_endpoints() for m in ("GET", "POST")]
    plan.sort(key=lambda item: (_is_last(*item), item[1] == "POST"))
    actions_done = False
    for endpoint, method in plan:
        if _is_last(endpoint, method) and not actions_done:
            _run_actions(run)
            actions_done = True
        expect = run.expect(endpoint, method)
        if expect is None:
            continue
        run.send(method, run.url_for(endpoint), expect)
    if identity in ("anonymous", "staff without a group", "Viewer"):
        assert sandbox_state.requests_for() == [], "a read-only identity reached ITNIO"
    assert run.failures == [], "\n".join(run.failures)
    assert run.requests > 300  # the matrix really walked the admin


def model_admin_allows(model_admin: Any, request: Any, func: Any) -> bool:
    names = getattr(func, "allowed_permissions", ())
    return all(getattr(model_admin, f"has_{name}_permission")(request) for name in names)


def _run_actions(run: Run) -> None:
    for model_admin in admin.site._registry.values():
        opts = model_admin.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        row = run.rows.get(model_admin.model)
        for func, name, _ in model_admin._get_base_actions():
            if run.user is None:
                expect = Expect(False, set())
            else:
                request = run.request()
                allowed = model_admin.has_view_or_change_permission(request) and model_admin_allows(
                    model_admin, request, func
                )
                expect = Expect(allowed, OK)
            data = {"action": name, "index": "0", "_selected_action": [row.pk if row else 1]}
            run.send("POST", url, expect, data)
