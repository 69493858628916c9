"""Do-not-call for AI tasks: suppressed customers are left out of the push with the reason."""

from __future__ import annotations

import pytest

from campaigns.services.actors import Actor
from campaigns.services.suppression import dnc_add

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def test_suppressed_ai_customers_are_left_out_of_the_push(created_task, sandbox_state):
    from campaigns.models import AiCustomer
    from campaigns.services.ai_customers import ai_customers_push
    from tests.ai.conftest import add_customers, requests_to

    add_customers(created_task, 3)
    dnc_add(numbers=["8613800000002"], actor=SYSTEM)
    ai_customers_push(task=created_task, actor=SYSTEM)
    left_out = AiCustomer.objects.get(phone_number="8613800000002")
    assert left_out.state == "skipped" and "do-not-call" in left_out.reason
    assert left_out.get_state_display() == "Left out (do-not-call)"
    pushed = [
        str(c.get("phoneNumber") or c.get("phone"))
        for r in requests_to(sandbox_state, "/aivoice/importCustomer")
        for c in r.body["customerPersons"]
    ]
    assert sorted(pushed) == ["8613800000001", "8613800000003"]


def test_the_left_out_reason_reads_in_each_readers_language(created_task, client, admin_user):
    """Pushed by someone reading Chinese, the reason is still shown in English to an English
    reader, and in Chinese to a Chinese one (the stored reason is the portal's own words)."""
    from django.utils import translation

    from campaigns.models import AiCustomer
    from campaigns.services.ai_customers import ai_customers_push
    from tests.ai.conftest import add_customers

    add_customers(created_task, 2)
    dnc_add(numbers=["8613800000002"], actor=SYSTEM)
    with translation.override("zh-hans"):
        ai_customers_push(task=created_task, actor=SYSTEM)
    left_out = AiCustomer.objects.get(phone_number="8613800000002")
    client.force_login(admin_user)
    url = f"/admin/campaigns/aicustomer/?task__id__exact={created_task.pk}"
    english = client.get(url, headers={"accept-language": "en"}).content.decode()
    assert "Left out: the number is on a do-not-call list." in english
    chinese = client.get(url, headers={"accept-language": "zh-hans"}).content.decode()
    assert "Left out: the number" not in chinese
    with translation.override("zh-hans"):
        in_chinese = translation.gettext(left_out.reason)
    assert in_chinese != left_out.reason and in_chinese in chinese
