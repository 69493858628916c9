"""The webhooks queue's worker yields the CPU (WEBHOOKS_NICE): delivering never slows the push
receivers or the dispatchers. Every other worker keeps its priority. Each check runs in a
process of its own (a process cannot take its priority back)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE = (
    "import os, sys, django; django.setup()\n"
    "from campaigns.management.commands.portal_worker import lower_priority\n"
    "before = os.nice(0); after = lower_priority(sys.argv[1]); print(after - before)\n"
)


def _lowered_by(queue: str, **env: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CODE, queue],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "itnio_portal.settings.base", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("queue", "env", "lowered"),
    [
        ("webhooks", {}, 5),
        ("webhooks", {"WEBHOOKS_NICE": "0"}, 0),
        ("webhooks", {"WEBHOOKS_NICE": "3"}, 3),
        ("sync", {}, 0),
        ("*", {}, 0),
    ],
)
def test_only_the_webhooks_worker_lowers_its_priority(queue, env, lowered):
    assert _lowered_by(queue, **env) == lowered
