"""Fixtures for the SIP phones: groups on the sandbox, calls that are answered."""

from __future__ import annotations

import pytest

from campaigns.services.actors import Actor
from sipphones.models import SipGroup
from sipphones.services import sip_group_create_on_itnio

SYSTEM = Actor.system("sip-test")


def make_group(app, **overrides) -> SipGroup:
    values = {
        "app": app,
        "group_name": "sales",
        "phone_name": "desk",
        "quantity": 3,
        "display_num": "861000000",
    }
    values.update(overrides)
    return SipGroup.objects.create(**values)


@pytest.fixture
def group(voice_app) -> SipGroup:
    """A draft group of three phones, desk_001 to desk_003."""
    return make_group(voice_app)


@pytest.fixture
def created_group(group, sandbox) -> SipGroup:
    """The draft group, created on the sandbox."""
    created = sip_group_create_on_itnio(group=group, actor=SYSTEM)
    assert created.state == SipGroup.State.CREATED, created.last_error
    return created


@pytest.fixture
def answered(monkeypatch):
    """Every call the sandbox accepts is answered (its life is otherwise a hash of the voiceId,
    which holds the time): a realistic answered life, found by salting the hash."""
    from itnio_portal.itnio.sandbox import state as sandbox_state_module
    from itnio_portal.itnio.sandbox.calls import ANSWERED, make_life

    def answered_life(voice_id, callee, **kwargs):
        for salt in range(1000):
            life = make_life(f"{voice_id}:{salt}", callee, **kwargs)
            if life.outcome == ANSWERED:
                return life
        raise AssertionError("no answered life found")

    monkeypatch.setattr(sandbox_state_module, "make_life", answered_life)
