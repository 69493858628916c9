"""Logging filters for the console: a refused request is a line, not a traceback."""

from __future__ import annotations

import logging


class RefusalsWithoutTraceback(logging.Filter):
    """django.request logs a 4xx (a 403 for a page a role may not open, a 404) with the
    exception that caused it; that traceback is noise for an expected answer. 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
