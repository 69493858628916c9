"""Settings for every environment: each value from the environment, with a safe local default."""

import re
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from itnio_portal.env import BASE_DIR, env

# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env.str(
        "DJANGO_SECRET_KEY", default="django-insecure-local-development-only-never-in-production"
    )
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
else:
    # Production: no defaults for what must be secret or explicit. Name every missing variable.
    _missing = [
        name
        for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")
        if not env.str(name, default="")
    ]
    if _missing:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is false, so these environment variables are required: "
            + ", ".join(_missing)
        )
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "campaigns.apps.PortalAdminConfig",  # django.contrib.admin with the portal's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "import_export",
    "axes",
    # Two-factor login (campaigns/two_factor.py): TOTP devices, backup codes, the package's
    # setup and profile pages. two_factor before its django_otp plugins.
    "two_factor",
    "django_otp",
    "django_otp.plugins.otp_static",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served by the portal (no CDN)
    "campaigns",
    "sipphones",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "itnio_portal.urls"
WSGI_APPLICATION = "itnio_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# Database: SQLite file by default (embedded), PostgreSQL via postgres://… (psycopg 3)
# ---------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the task worker and the scheduler share one file: WAL lets readers run
    # beside the writer, IMMEDIATE takes the write lock at BEGIN so two writers queue on the
    # busy timeout instead of failing with "database is locked" halfway through a transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

# Convention 3 (design.md): never hold a transaction open across an ITNIO call.
for _db in DATABASES.values():
    _db["ATOMIC_REQUESTS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# Auth, i18n
# ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from
# one address, that pair is locked out for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

# Two-factor login (django-two-factor-auth): a staff user with a TOTP device gives its code after
# the password, always. TWO_FACTOR_REQUIRED makes a device mandatory: false (default: optional),
# privileged (users who may spend or manage credentials: Operators, Admins, superusers), true
# (every staff user). Without a device such a user is sent to set one up before any admin page.
TWO_FACTOR_REQUIRED = env.str("TWO_FACTOR_REQUIRED", default="false").strip().lower()
if TWO_FACTOR_REQUIRED in {"0", "no", "off", ""}:
    TWO_FACTOR_REQUIRED = "false"
if TWO_FACTOR_REQUIRED in {"1", "yes", "on"}:
    TWO_FACTOR_REQUIRED = "true"
if TWO_FACTOR_REQUIRED not in {"false", "privileged", "true"}:
    raise ImproperlyConfigured(
        f"TWO_FACTOR_REQUIRED must be false, privileged or true (got {TWO_FACTOR_REQUIRED!r})"
    )
# The admin's own login page is the two-step one (campaigns/admin_site.py): the package must not
# send it elsewhere.
TWO_FACTOR_PATCH_ADMIN = False
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"
# Seconds between the password and the code before the login starts again.
TWO_FACTOR_LOGIN_TIMEOUT = env.int("TWO_FACTOR_LOGIN_TIMEOUT", default=600)
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = "ITNIO Portal"
# Device secrets never on an admin page.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True


def axes_client_ip_settings(trusted_proxies: int) -> dict[str, object]:
    """How axes (through django-ipware) finds the client address behind this many proxies.

    0: REMOTE_ADDR, and X-Forwarded-For is never read. N: each proxy of ours appends the
    address it saw to X-Forwarded-For, so the client is the N-th entry from the right; entries
    further left were written by the client and are ignored. (ipware counts the proxies listed
    in the header, N - 1, the last one being REMOTE_ADDR; not strict, so a longer header is
    read from the right instead of being dropped.)"""
    behind = trusted_proxies > 0
    return {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ["HTTP_X_FORWARDED_FOR" if behind else "REMOTE_ADDR"],
        "AXES_IPWARE_PROXY_ORDER": "left-most",
        "AXES_IPWARE_PROXY_COUNT": trusted_proxies - 1 if behind else None,
        "IPWARE_STRICT": False,
    }


# Proxies of our own in front of the portal (default: 1 behind a TLS proxy, else 0).
TRUSTED_PROXY_COUNT = env.int(
    "DJANGO_TRUSTED_PROXY_COUNT",
    default=1 if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False) else 0,
)
_client_ip = axes_client_ip_settings(TRUSTED_PROXY_COUNT)
AXES_IPWARE_META_PRECEDENCE_ORDER = _client_ip["AXES_IPWARE_META_PRECEDENCE_ORDER"]
AXES_IPWARE_PROXY_ORDER = _client_ip["AXES_IPWARE_PROXY_ORDER"]
AXES_IPWARE_PROXY_COUNT = _client_ip["AXES_IPWARE_PROXY_COUNT"]
IPWARE_STRICT = _client_ip["IPWARE_STRICT"]

# English and Simplified Chinese: the page follows the browser (LocaleMiddleware) and the
# switcher in the header; PORTAL_LANGUAGE is the default for browsers asking for neither and for
# the command line (manage.py sets it from LANG=zh_CN… when it is not set).
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LANGUAGE_CODE = env.str("PORTAL_LANGUAGE", default="en")
LOCALE_PATHS = [BASE_DIR / "itnio_portal" / "locale"]
TIME_ZONE = env.str("PORTAL_TIME_ZONE", default="UTC")
USE_I18N = True
# ISO-like dates and times on every page (itnio_portal/formats).
FORMAT_MODULE_PATH = ["itnio_portal.formats"]
USE_TZ = True

# ---------------------------------------------------------------------------
# Static and uploaded files (whitenoise)
# ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "static")
STATICFILES_DIRS = [BASE_DIR / "itnio_portal" / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# ---------------------------------------------------------------------------
# Security: production defaults on when DEBUG is off, each with an env opt-out
# ---------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# fileUpload sends the audio base64 in JSON; uploads above this go to a temporary file.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# ---------------------------------------------------------------------------
# Field encryption: ITNIO API secrets are encrypted at rest (campaigns.fields)
# ---------------------------------------------------------------------------
# Comma-separated Fernet keys, newest first; every key decrypts, the first encrypts.
# Unset: one key is derived from SECRET_KEY (and SECRET_KEY_FALLBACKS decrypt).
ITNIO_FIELD_KEYS = env.list("ITNIO_FIELD_KEYS", default=[])
# Salt for the library's key derivation from SECRET_KEY (not a secret; fixed so keys stay stable).
SALT_KEY = "itnio-portal:encrypted-fields"

# ---------------------------------------------------------------------------
# ITNIO API (itnio-api.md)
# ---------------------------------------------------------------------------
# One root for /voice/…, /sms/… and /aivoice/…. Live value: https://api.itniotech.com.
# The default points at the built-in sandbox the demo starts.
ITNIO_BASE_URL = env.str("ITNIO_BASE_URL", default="http://127.0.0.1:8765")
# An account's base URL override must be https://; http:// to this machine (the sandbox) is
# accepted too when this is on (by default in development, never needed in production).
ITNIO_ALLOW_LOCAL_BASE_URL = env.bool("ITNIO_ALLOW_LOCAL_BASE_URL", default=DEBUG)
ITNIO_CONNECT_TIMEOUT = env.float("ITNIO_CONNECT_TIMEOUT", default=5.0)
ITNIO_READ_TIMEOUT = env.float("ITNIO_READ_TIMEOUT", default=30.0)
ITNIO_MAX_READ_RETRIES = env.int("ITNIO_MAX_READ_RETRIES", default=3)
# itnio-api.md §3.2: 200 (EN, old ZH) vs 1000 (new ZH); the strictest is the default.
ITNIO_SEND_GROUP_MAX = env.int("ITNIO_SEND_GROUP_MAX", default=200)
# itnio-api.md §3.2/§3.3: loopCount 1–3 (old) vs 1–9 (new).
ITNIO_LOOP_COUNT_MAX = env.int("ITNIO_LOOP_COUNT_MAX", default=9)
# itnio-api.md §3.3: TTS text 299 (IDN/VN/TH) / 800 (others) in old docs vs 1000 in new ones.
ITNIO_TTS_TEXT_MAX = env.int("ITNIO_TTS_TEXT_MAX", default=800)
ITNIO_TTS_TEXT_MAX_SHORT = env.int("ITNIO_TTS_TEXT_MAX_SHORT", default=299)
# Records older than this cannot be fetched (itnio-api.md §3.5: "last two months").
ITNIO_RECORD_RETENTION_DAYS = env.int("ITNIO_RECORD_RETENTION_DAYS", default=60)
# A send still marked "sending" after this long lost its sender: it becomes "unknown".
ITNIO_STALE_SEND_MINUTES = env.int("ITNIO_STALE_SEND_MINUTES", default=10)
# Record sync: calls refreshed per run and recordGroup requests in flight at once.
ITNIO_SYNC_BATCH = env.int("ITNIO_SYNC_BATCH", default=500)
ITNIO_SYNC_CONCURRENCY = env.int("ITNIO_SYNC_CONCURRENCY", default=4)
# An unknown TTS send is matched to a record of the same callee submitted within this many minutes.
ITNIO_UNKNOWN_MATCH_MINUTES = env.int("ITNIO_UNKNOWN_MATCH_MINUTES", default=10)
# Largest voice file accepted for upload (ITNIO states none, itnio-api.md §3.1; base64 adds 33 %).
VOICE_FILE_MAX_BYTES = env.int("VOICE_FILE_MAX_BYTES", default=5 * 1024 * 1024)
# Campaign dispatch: sendGroup requests in flight at once per campaign.
ITNIO_DISPATCH_CONCURRENCY = env.int("ITNIO_DISPATCH_CONCURRENCY", default=4)
# A dispatcher renews its lease as a heartbeat; one silent this long is taken for dead.
DISPATCH_LEASE_SECONDS = env.int("DISPATCH_LEASE_SECONDS", default=60)
# A batch still "sending" this long after its request started (and no live dispatcher) is UNKNOWN.
DISPATCH_STALE_BATCH_SECONDS = env.int("DISPATCH_STALE_BATCH_SECONDS", default=300)
# Consecutive "could not connect" failures before the campaign pauses itself.
DISPATCH_PAUSE_AFTER_NOT_SENT = env.int("DISPATCH_PAUSE_AFTER_NOT_SENT", default=5)
# Reconciliation looks this many minutes around a batch's request in ITNIO's records.
RECONCILE_WINDOW_MINUTES = env.int("RECONCILE_WINDOW_MINUTES", default=10)
# Push receiver: the largest body stored (larger ones get 413; ITNIO then retries, §6.4).
PUSH_MAX_BYTES = env.int("PUSH_MAX_BYTES", default=10 * 1024 * 1024)
# Push apply worker: inbox entries per transaction, idle poll interval, and how long the
# scheduler's fallback run (for a deployment without the worker) may apply at most.
PUSH_APPLY_BATCH = env.int("PUSH_APPLY_BATCH", default=500)
PUSH_APPLY_IDLE_SECONDS = env.float("PUSH_APPLY_IDLE_SECONDS", default=0.2)
# After a batch smaller than PUSH_APPLY_BATCH, wait this long so the next one gathers more
# entries: pushes are still picked up within a second, at a fraction of the statements.
PUSH_APPLY_GATHER_SECONDS = env.float("PUSH_APPLY_GATHER_SECONDS", default=0.5)
PUSH_APPLY_MAX_SECONDS = env.float("PUSH_APPLY_MAX_SECONDS", default=20.0)
# The apply worker's CPU priority below the web workers' (Unix nice increment): the receiver
# must answer at once, applying may lag a second.
PUSH_APPLY_NICE = env.int("PUSH_APPLY_NICE", default=5)
# Applied inbox entries are deleted after this many days (0 keeps them forever; failed entries
# are always kept).
PUSH_RETENTION_DAYS = env.int("PUSH_RETENTION_DAYS", default=30)
# After "Regenerate push URL" the old URL keeps working this long (ITNIO retries a failed push
# for about 90 minutes), unless the Admin revokes it at once.
PUSH_TOKEN_GRACE_SECONDS = env.int("PUSH_TOKEN_GRACE_SECONDS", default=2 * 3600)
# Public URL of this portal, used to show the push URL to paste into ITNIO's console.
PORTAL_PUBLIC_URL = env.str("PORTAL_PUBLIC_URL", default="http://127.0.0.1:8000")
# The operations home warns when an account's last balance read is under this amount.
PORTAL_LOW_BALANCE = env.float("PORTAL_LOW_BALANCE", default=10.0)
# The frequency cap new campaigns (and TTS calls) start with, "CALLS/HOURS" (e.g. 1/24); none
# unless set. Campaigns created before keep none.
PORTAL_FREQUENCY_CAP = env.str("PORTAL_FREQUENCY_CAP", default="")
# Two-person approval (campaigns/services/approvals.py): a launch that would call more than this
# many callees waits for a second person with approve_launch; off unless set.
LAUNCH_APPROVAL_ABOVE_CALLEES = env.int("LAUNCH_APPROVAL_ABOVE_CALLEES", default=None)
# … or whose worst case is above this amount, "AMOUNT CUR" (e.g. "100.00 USD"); off unless set.
LAUNCH_APPROVAL_ABOVE_COST = env.str("LAUNCH_APPROVAL_ABOVE_COST", default="")
if LAUNCH_APPROVAL_ABOVE_COST and not re.fullmatch(
    r"\d+(\.\d+)? [A-Za-z]{3}", LAUNCH_APPROVAL_ABOVE_COST.strip()
):
    raise ImproperlyConfigured(
        "LAUNCH_APPROVAL_ABOVE_COST must be an amount and a currency, such as 100.00 USD "
        f"(got {LAUNCH_APPROVAL_ABOVE_COST!r})"
    )
# The balance watch (campaigns/services/balance_watch.py): how often each account's balance
# is read, and how long the readings are kept for the account page's chart.
BALANCE_WATCH_MINUTES = env.int("BALANCE_WATCH_MINUTES", default=15)
BALANCE_HISTORY_DAYS = env.int("BALANCE_HISTORY_DAYS", default=90)
# E-mail (the low-balance alert): EMAIL_URL as django-environ reads it (smtp://user:pw@host:587,
# consolemail:// prints them, the default).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="itnio-portal@localhost")
# The currency of ITNIO balances (getBalance names none; ITNIO quotes in USD unless told).
PORTAL_BALANCE_CURRENCY = env.str("PORTAL_BALANCE_CURRENCY", default="USD")

# ---------------------------------------------------------------------------
# Personal data (campaigns/services/retention.py, personal_data.py): all off by default (0)
# ---------------------------------------------------------------------------
# Callees of campaigns that ended this many days ago, AI customers imported this many days ago,
# and the stored import files (callee lists, rejected rows) are deleted.
CALLEE_RETENTION_DAYS = env.int("CALLEE_RETENTION_DAYS", default=0)
# Calls (and AI call records) placed this many days ago lose the callee's number, name, raw
# record and transcript; their figures (status, durations, cost) stay.
CALL_NUMBER_RETENTION_DAYS = env.int("CALL_NUMBER_RETENTION_DAYS", default=0)
# Calls and AI call records placed this many days ago lose their recording links.
RECORDING_LINK_RETENTION_DAYS = env.int("RECORDING_LINK_RETENTION_DAYS", default=0)
# Push inbox entries (applied or failed) received this many days ago lose their raw body.
PUSH_BODY_RETENTION_DAYS = env.int("PUSH_BODY_RETENTION_DAYS", default=0)
# Salt of the erased-number digests (manage.py erase_number). Unset: derived from SECRET_KEY.
# Set it once and never change it: a new salt forgets which numbers were erased.
ERASED_NUMBER_SALT = env.str("ERASED_NUMBER_SALT", default="")

# ---------------------------------------------------------------------------
# Background work: django.tasks API through the django-tasks backport
# ---------------------------------------------------------------------------
TASKS_BACKEND = env.str("TASKS_BACKEND", default="database")  # database | rq | immediate
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Longest a single task may run on RQ before the worker kills it: a dispatch of a large
# campaign runs for hours, so the default is generous.
RQ_JOB_TIMEOUT = env.int("RQ_JOB_TIMEOUT", default=6 * 3600)
# default: quick housekeeping only (tick, stale-send sweep, heartbeat), so nothing long delays
# it; dispatch: campaign dispatchers (hours each); sync: record sync, imports, pruning (minutes);
# figures: the daily figures refresh (time-boxed); webhooks: outbound webhook delivery
# (time-boxed). Each queue gets a worker of its own.
TASK_QUEUES = ["default", "dispatch", "sync", "figures", "webhooks"]

if TASKS_BACKEND == "rq":
    INSTALLED_APPS.append("django_rq")
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_rq.RQBackend",
            "QUEUES": TASK_QUEUES,
        }
    }
    RQ_QUEUES = {
        name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": RQ_JOB_TIMEOUT} for name in TASK_QUEUES
    }
elif TASKS_BACKEND == "immediate":
    TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": TASK_QUEUES,
        }
    }
elif TASKS_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": TASK_QUEUES}}
else:
    raise ImproperlyConfigured(
        f"TASKS_BACKEND must be database, rq or immediate (got {TASKS_BACKEND!r})"
    )

# The scheduler's tick (manage.py portal_scheduler).
SCHEDULER_TICK_SECONDS = env.int("SCHEDULER_TICK_SECONDS", default=60)
TASK_RESULT_RETENTION_DAYS = env.int("TASK_RESULT_RETENTION_DAYS", default=7)
# Callee files with more rows than this are imported by a background job with a progress bar
# (a streaming reader and bulk writes) instead of the preview page.
CALLEE_IMPORT_BACKGROUND_ROWS = env.int("CALLEE_IMPORT_BACKGROUND_ROWS", default=20000)
# A figures refresh starts no new day after this many seconds, so it ends whatever the write
# rate; the days it leaves are read from the calls until the next run (every minute).
CALL_STATS_REFRESH_MAX_SECONDS = env.float("CALL_STATS_REFRESH_MAX_SECONDS", default=20.0)
# Imports with more staged callees than this are confirmed by a background job, in chunks of
# CALLEE_IMPORT_CHUNK_ROWS with a progress bar, so the confirm button answers at once.
CALLEE_IMPORT_BACKGROUND_CONFIRM_ROWS = env.int(
    "CALLEE_IMPORT_BACKGROUND_CONFIRM_ROWS", default=50000
)
# Rows the background import commits per transaction (with its counters and its lease).
CALLEE_IMPORT_CHUNK_ROWS = env.int("CALLEE_IMPORT_CHUNK_ROWS", default=10000)
# A background import's worker renews its lease with every chunk; one silent this long is taken
# for dead and the import resumes from its last committed row (resume_stale_imports).
IMPORT_LEASE_SECONDS = env.int("IMPORT_LEASE_SECONDS", default=60)
# An import whose worker stopped more often than this fails instead of stopping the next one.
IMPORT_MAX_RESUMES = env.int("IMPORT_MAX_RESUMES", default=5)

# --- What an uploaded list may hold (campaigns/services/tabular_guards.py); a file past any of
# these is refused with a sentence saying which, before it costs memory.
# Rows below the header of one file (blank rows included), for every list import.
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=1_000_000)
# Columns of one row (empty trailing cells do not count).
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=1000)
# Characters of one line of a CSV/TSV/TXT file (read with a bounded length).
IMPORT_MAX_LINE_CHARS = env.int("IMPORT_MAX_LINE_CHARS", default=1_048_576)
# Characters of one cell (and of a column name): Excel's own limit.
IMPORT_MAX_CELL_CHARS = env.int("IMPORT_MAX_CELL_CHARS", default=32_767)
# An XLSX workbook's parts unpacked, all together (checked in the ZIP directory, before parsing).
IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES = env.int(
    "IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES", default=256 * 1024 * 1024
)
# How many times one part (over 1 MB unpacked) may expand: ZIP bombs expand a thousand times.
IMPORT_XLSX_MAX_RATIO = env.int("IMPORT_XLSX_MAX_RATIO", default=100)
# The workbook's shared text table, which openpyxl holds whole in memory, unpacked.
IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES = env.int(
    "IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES", default=32 * 1024 * 1024
)
# Files read whole into memory (the callee preview page, the AI customer import); larger callee
# files go to the background import, larger AI customer files are refused.
IMPORT_IN_MEMORY_MAX_BYTES = env.int("IMPORT_IN_MEMORY_MAX_BYTES", default=20 * 1024 * 1024)
# Rows of an AI customer file (the whole file is checked and previewed in memory).
AI_CUSTOMER_IMPORT_MAX_ROWS = env.int("AI_CUSTOMER_IMPORT_MAX_ROWS", default=50_000)
# Uploads wait between the import preview and its confirmation here (written in linear time).
IMPORT_EXPORT_TMP_STORAGE_CLASS = "campaigns.upload_storage.UploadTempStorage"
# The dashboard's longest date range, in days.
DASHBOARD_MAX_DAYS = env.int("DASHBOARD_MAX_DAYS", default=400)
# The call list counts searches and filters the daily figures cannot answer up to this many
# rows ("more than N"), instead of counting a million rows on every page.
CALL_LIST_COUNT_LIMIT = env.int("CALL_LIST_COUNT_LIMIT", default=10000)

# ---------------------------------------------------------------------------
# Cache every process shares (the REST API's throttling): a database table by default
# (created by migrate), Redis with CACHE_URL=redis://HOST:6379/N.
# ---------------------------------------------------------------------------
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://portal_cache")}

# ---------------------------------------------------------------------------
# REST API under /api/v1/ (campaigns/api): tokens, the admin's permissions, throttling
# ---------------------------------------------------------------------------
# Requests per token (per client address before authentication) on the shared cache.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="600/min")
# How long a plan's confirmation token may launch the campaign, in seconds.
API_LAUNCH_TOKEN_SECONDS = env.int("API_LAUNCH_TOKEN_SECONDS", default=900)
# How long an Idempotency-Key of a call is honoured, in hours.
API_IDEMPOTENCY_HOURS = env.int("API_IDEMPOTENCY_HOURS", default=24)
# The largest JSON body and its deepest nesting the API reads (larger: 400).
API_MAX_JSON_BYTES = env.int("API_MAX_JSON_BYTES", default=1024 * 1024)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=20)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["campaigns.api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["campaigns.api.permissions.DeclaredPermissions"],
    "DEFAULT_THROTTLE_CLASSES": ["campaigns.api.throttling.TokenRateThrottle"],
    "DEFAULT_PARSER_CLASSES": [
        "campaigns.api.parsers.GuardedJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "campaigns.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # The client address behind our own proxies only (X-Forwarded-For is not trusted further).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# Wrong tokens per client address and minute before it is answered 429 (guessing).
API_AUTH_FAILURES_PER_MINUTE = env.int("API_AUTH_FAILURES_PER_MINUTE", default=30)
SPECTACULAR_SETTINGS = {
    "TITLE": "ITNIO Portal API",
    "DESCRIPTION": (
        "The portal's REST API: the same services, roles and permissions as the admin. "
        "Authenticate with `Authorization: Token <key>` (manage.py api_token create USER)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "campaigns.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CallStateEnum": "campaigns.models.voice.Call.State",
        "CallKindEnum": "campaigns.models.voice.Call.Kind",
        "AppKindEnum": "campaigns.models.accounts.ItnioApp.Kind",
        "VoiceFileStateEnum": "campaigns.models.voice.VoiceFile.State",
        "CampaignStateEnum": "campaigns.models.campaigns.Campaign.State",
        "ContactImportStateEnum": "campaigns.models.audience.ContactImport.State",
        "AiTaskStateEnum": "campaigns.models.ai.AiTask.State",
    },
}

# ---------------------------------------------------------------------------
# Outbound webhooks (campaigns/services/outbound_hooks*.py): Standard Webhooks, SSRF guarded
# ---------------------------------------------------------------------------
# Addresses on private, loopback, link-local, shared and reserved ranges (IPv4, IPv6 and
# IPv4-mapped) are refused, when subscribing and on the address actually connected to, unless
# this is on (a local receiver in the demo or the tests).
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=False)
# Subscription URLs must be https:// unless this is on.
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=False)
# Short timeouts: a slow receiver must not hold the worker.
WEBHOOKS_CONNECT_TIMEOUT = env.float("WEBHOOKS_CONNECT_TIMEOUT", default=3.0)
WEBHOOKS_READ_TIMEOUT = env.float("WEBHOOKS_READ_TIMEOUT", default=5.0)
# Attempts before a message is dead, and the exponential backoff between them (base doubling
# up to the cap): 1, 2, 4 … minutes capped at 6 hours, 12 attempts, about 24 hours in all.
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=12)
WEBHOOKS_RETRY_BASE_SECONDS = env.int("WEBHOOKS_RETRY_BASE_SECONDS", default=60)
WEBHOOKS_RETRY_CAP_SECONDS = env.int("WEBHOOKS_RETRY_CAP_SECONDS", default=6 * 3600)
# Messages claimed per batch, and how long one run of the delivery task may deliver.
WEBHOOKS_BATCH = env.int("WEBHOOKS_BATCH", default=100)
# Requests in flight at once while a batch is delivered (one worker, this many threads).
WEBHOOKS_CONCURRENCY = env.int("WEBHOOKS_CONCURRENCY", default=8)
WEBHOOKS_DELIVER_MAX_SECONDS = env.float("WEBHOOKS_DELIVER_MAX_SECONDS", default=50.0)
# A worker of the webhooks queue alone lowers its CPU priority by this much (os.nice): the push
# receivers, the apply worker and the dispatchers go first on a full machine.
WEBHOOKS_NICE = env.int("WEBHOOKS_NICE", default=5)
# Delivered messages (and their log) are deleted after this many days (dead ones are kept).
WEBHOOKS_RETENTION_DAYS = env.int("WEBHOOKS_RETENTION_DAYS", default=7)

# ---------------------------------------------------------------------------
# Logging: ITNIO traffic is logged without secrets (the client never logs headers).
# ---------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"refusals": {"()": "itnio_portal.log_filters.RefusalsWithoutTraceback"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["refusals"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # django-axes announces itself at INFO in every process the demo starts.
        "axes": {"level": "WARNING"},
    },
}
