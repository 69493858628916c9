"""Settings for the test suite: immediate tasks, fast hashing, the same database switch as base."""

from itnio_portal.env import env

from .base import *  # noqa: F403
from .base import DATABASES, TASK_QUEUES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        "QUEUES": TASK_QUEUES,
    }
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and not env.str(
    "DATABASE_URL", default=""
):
    # A file, not memory: the chaos and crash tests run real worker processes against the
    # test database. One per test run, so parallel runs on one machine do not collide.
    import os
    import tempfile

    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"itnio-portal-test-{os.getpid()}.sqlite3")
    }
ITNIO_BASE_URL = "http://127.0.0.1:9"  # nothing listens: a test that forgets the sandbox fails
# Accounts point at the sandbox on 127.0.0.1 (http://).
ITNIO_ALLOW_LOCAL_BASE_URL = True
# Tests run with DEBUG off; do not scan a STATIC_ROOT that collectstatic never filled.
WHITENOISE_AUTOREFRESH = True
# call_command("apply_pushes") runs in the test process: it must not lower the suite's priority.
PUSH_APPLY_NICE = 0
# The suite reads English unless a test asks for Chinese (whatever the terminal's LANG says).
LANGUAGE_CODE = "en"
