"""Fixtures for AI tasks: the AI app on the sandbox, tasks, customers and an answered call."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns.models import AiCustomer, AiTask, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.ai_tasks import ai_task_create
from tests.conftest import AI_APP_ID

SYSTEM = Actor.system("ai-test")


@pytest.fixture
def ai_app(account) -> ItnioApp:
    return account.apps.get(app_id=AI_APP_ID)


def make_task(app: ItnioApp, **overrides: Any) -> AiTask:
    values: dict[str, Any] = {
        "app": app,
        "name": "Renewal July",
        "dialog_flow_id": 501,
        "line_id": 3001,
        "line_name": "+62 21 5099 0001 (Jakarta)",
        "robot_count": 2,
    }
    values.update(overrides)
    return AiTask.objects.create(**values)


def add_customers(task: AiTask, count: int, *, start: int = 1, **extra: Any) -> None:
    AiCustomer.objects.bulk_create(
        AiCustomer(
            task=task,
            name=f"Customer {i}",
            phone_number=f"86138{i:08d}",
            properties={"amount": f"{i}.00"},
            **extra,
        )
        for i in range(start, start + count)
    )


@pytest.fixture
def task(ai_app) -> AiTask:
    return make_task(ai_app)


@pytest.fixture
def created_task(task, sandbox) -> AiTask:
    created = ai_task_create(task=task, actor=SYSTEM)
    assert created.state == AiTask.State.CREATED, created.last_error
    return created


def requests_to(sandbox_state, path: str) -> list[Any]:
    return [r for r in sandbox_state.requests_for(path) if r.path == path]
