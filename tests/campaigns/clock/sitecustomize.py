"""Test-only: a portal process started with this folder on PYTHONPATH and PORTAL_TEST_CLOCK_FILE
set reads Django's clock (django.utils.timezone.now) as the real one plus the offset in seconds
written in that file, read again at every reading: a chaos test moves the clock of all its
worker processes at once (tests/campaigns/test_chaos_windows.py). Nothing else is changed."""

import os

_PATH = os.environ.get("PORTAL_TEST_CLOCK_FILE")

if _PATH:
    from datetime import timedelta

    import django.utils.timezone as _timezone

    _real_now = _timezone.now

    def _shifted_now():
        try:
            with open(_PATH, encoding="ascii") as fh:
                offset = float(fh.read() or 0)
        except (OSError, ValueError):
            offset = 0.0
        return _real_now() + timedelta(seconds=offset)

    _timezone.now = _shifted_now
