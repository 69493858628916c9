"""Query strings on admin lists reach only the filters each list offers (issue 12, defect 1).

Before: any local field was a lookup, so `?push_token__startswith=i` on the app list answered one
row or none, and a Viewer recovered a push token in 925 requests. Now every other lookup sends
the list back to itself unfiltered (?e=1, the admin's answer to a bad filter), whatever its value.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.contrib.auth.models import Group, User
from django.test import RequestFactory
from django.urls import reverse

from campaigns.admin.access import LeastPrivilegeMixin, is_secret
from campaigns.models import ItnioAccount, ItnioApp
from tests.admin_objects import one_of_each
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

SHAPES = [("", "x"), ("__startswith", "a"), ("__in", "1,2"), ("__regex", "^a"), ("__isnull", "1")]
PORTAL_APPS = {"campaigns", "sipphones", "auth"}
REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _as(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def _refused(response) -> bool:
    return response.status_code == 302 and response["Location"].endswith("?e=1")


def test_every_admin_of_the_portal_limits_its_lookups():
    for model, model_admin in REGISTRY:
        if model._meta.app_label in PORTAL_APPS:
            assert isinstance(model_admin, LeastPrivilegeMixin), model._meta.label


@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTRY, ids=lambda v: getattr(v, "__name__", "")
)
def test_a_list_answers_to_its_own_filters_and_no_other_lookup(client, account, model, model_admin):
    one_of_each(account)
    viewer, boss = make_staff("v", "Viewer"), make_staff("a", "Admin")
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    if not isinstance(model_admin, LeastPrivilegeMixin):
        # Not the portal's (login attempts, task results): no role opens it at all.
        for role in ("Viewer", "Operator", "Admin"):
            client.force_login(make_staff(f"x-{role}", role))
            assert client.get(url, {"id": "1"}).status_code == 403, role
        return
    user = viewer if model_admin.has_view_permission(_as(viewer)) else boss
    client.force_login(user)
    offered = model_admin.list_filter_parameters(_as(user))

    for field in model._meta.concrete_fields:
        for name in {field.name, field.attname}:
            for suffix, value in SHAPES:
                lookup = name + suffix
                response = client.get(url, {lookup: value})
                if lookup in offered:
                    assert response.status_code == 200, lookup
                else:
                    assert _refused(response), f"{model._meta.label}: {lookup} was not refused"

    # Every choice the list's own filter panel and date drill-down link to still works.
    page = client.get(url).content.decode()
    links = set(re.findall(r'href="(\?[^"#]*)"', page))
    assert links or not (model_admin.list_filter or model_admin.date_hierarchy), model
    for link in links:
        response = client.get(url + unescape(link))
        assert response.status_code == 200, f"{model._meta.label}: {link}"


def test_a_viewer_cannot_use_the_app_list_as_an_oracle_for_push_tokens(client, voice_app):
    client.force_login(make_staff("peek", "Viewer"))
    url = reverse("admin:campaigns_itnioapp_changelist")
    right, wrong = voice_app.push_token[:3], "~~~"
    for lookup in ("push_token__startswith", "push_token", "previous_push_token__startswith"):
        answers = [
            client.get(url, {"app_id": voice_app.app_id, lookup: prefix})
            for prefix in (right, wrong)
        ]
        assert all(_refused(a) for a in answers), lookup
    # The list says why once it is back: the whole list, and a warning.
    page = client.get(url, {"push_token__startswith": right}, follow=True).content.decode()
    assert "cannot be filtered that way" in page and voice_app.push_token not in page
    # Nor does a search or a sort reach the token.
    assert voice_app.app_id not in client.get(url, {"q": voice_app.push_token}).content.decode()
    for index in range(-1, 10):
        assert client.get(url, {"o": str(index)}).status_code == 200


def test_no_registered_list_filters_searches_or_sorts_by_a_secret():
    for model, model_admin in REGISTRY:
        if isinstance(model_admin, LeastPrivilegeMixin):
            assert model_admin.check() == [], model._meta.label


def test_a_list_that_names_a_secret_fails_the_system_check():
    class Careless(LeastPrivilegeMixin, ModelAdmin):
        list_filter = ["kind"]
        search_fields = ["label", "push_token"]
        list_display = ["app_id", "previous_push_token"]

    errors = Careless(ItnioApp, admin.site).check()

    assert {e.id for e in errors} == {"portal.E001"}
    assert len(errors) == 2
    assert "push_token" in errors[0].msg


def test_secrets_are_told_by_their_field_or_their_name():
    fields = {f.name: f for f in ItnioApp._meta.get_fields() if hasattr(f, "attname")}
    assert is_secret(fields["push_token"]) and is_secret(fields["previous_push_token"])
    assert not is_secret(fields["app_id"])
    assert is_secret(ItnioAccount._meta.get_field("api_secret"))
    assert is_secret(User._meta.get_field("password"))
    assert not is_secret(Group._meta.get_field("name"))
