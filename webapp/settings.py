"""Django settings for Assay.

Every value is read through ``webapp.config.Config``: environment variable, then the
optional TOML file named by ASSAY_CONFIG, then the default. README.md lists them all.
"""

import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from webapp.config import Config, database_from_url, redis_url_with_timeouts

BASE_DIR = Path(__file__).resolve().parent.parent
config = Config()

ASSAY_ENV = config.choice("ASSAY_ENV", "development", ("development", "production"))
PRODUCTION = ASSAY_ENV == "production"

DEBUG = config.bool("ASSAY_DEBUG", False)
if PRODUCTION and DEBUG:  # debug pages show the settings to whoever meets an error
    raise ImproperlyConfigured(
        "ASSAY_DEBUG cannot be true with ASSAY_ENV=production: debug pages would show "
        "Assay's settings to anyone."
    )
if PRODUCTION:
    SECRET_KEY = config.str("SECRET_KEY")
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("SECRET_KEY must be set to 32 or more random characters.")
else:
    # A fixed, public key is fine for a laptop; production refuses to start without one.
    SECRET_KEY = config.str("SECRET_KEY", "assay-development-key-not-for-production")
ALLOWED_HOSTS = config.list("ASSAY_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = config.list("ASSAY_CSRF_TRUSTED_ORIGINS", [])

# Security headers on every response; cookies and HSTS only make sense over TLS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Pages load only what Assay serves itself, and no inline script or style.
ASSAY_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
BEHIND_TLS_PROXY = config.bool("ASSAY_BEHIND_TLS_PROXY", False)
# Load balancers and container checks probe the health over plain HTTP: not sent to https.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if BEHIND_TLS_PROXY:
    # The proxy terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = config.int("ASSAY_HSTS_SECONDS", 31_536_000)
# Secure cookies are not sent over plain HTTP, which would break every form there.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = config.bool(
    "ASSAY_SECURE_COOKIES", PRODUCTION and BEHIND_TLS_PROXY
)
SESSION_COOKIE_HTTPONLY = True

DATA_DIR = Path(config.str("ASSAY_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)  # SQLite will not create the folder itself
MEDIA_ROOT = DATA_DIR / "media"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_q",
    "webapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

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

DATABASES = {
    "default": database_from_url(
        config.str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'assay.sqlite3'}")
    )
}
POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
if POSTGRES:
    # Reuse connections across requests, checked before use so a restarted server is fine.
    DATABASES["default"]["CONN_MAX_AGE"] = config.int("ASSAY_DB_CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # The ORM broker and the web process write the same file: WAL lets readers go on
    # while one writes, IMMEDIATE takes the write lock up front (no upgrade deadlocks),
    # and the timeout waits for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# collectstatic's target; only production serves from it (whitenoise warns if it is missing).
STATIC_ROOT = (
    Path(config.str("ASSAY_STATIC_ROOT", str(BASE_DIR / "staticfiles"))) if PRODUCTION else None
)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production, serve straight from static/ so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
if PRODUCTION:
    # Hashed names (cached for ever by browsers) and pre-compressed copies.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

# Uploads: large files stream to a temporary file; pasted text is held in memory,
# so its limit also bounds the request body Django accepts for form fields. Sent as a
# form or in JSON, text grows as it is escaped (%C3%A9 for é, \u0001): up to six times.
ASSAY_MAX_UPLOAD_BYTES = config.int("ASSAY_MAX_UPLOAD_BYTES", 100 * 1024 * 1024, minimum=1)
ASSAY_MAX_TEXT_BYTES = config.int("ASSAY_MAX_TEXT_BYTES", 5 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * ASSAY_MAX_TEXT_BYTES + 64 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Fetching URLs (DESIGN.md "Safety rules").
ASSAY_MAX_DOWNLOAD_BYTES = config.int("ASSAY_MAX_DOWNLOAD_BYTES", 100 * 1024 * 1024, minimum=1)
ASSAY_FETCH_CONNECT_TIMEOUT = config.int("ASSAY_FETCH_CONNECT_TIMEOUT", 10, minimum=1)
ASSAY_FETCH_TIMEOUT = config.int("ASSAY_FETCH_TIMEOUT", 60, minimum=1)
ASSAY_FETCH_MAX_REDIRECTS = config.int("ASSAY_FETCH_MAX_REDIRECTS", 5)
ASSAY_ALLOW_PRIVATE_URLS = config.bool("ASSAY_ALLOW_PRIVATE_URLS", False)

# The pipeline: an ordered list of task classes, checked at start-up.
ASSAY_PIPELINE = config.list(
    "ASSAY_PIPELINE",
    [
        "tasks.fetch.FetchURL",
        "tasks.detect.DetectFormat",
        "tasks.preview.Preview",
        "tasks.spreadsheet_to_json.SpreadsheetToJSON",
        "tasks.parse_json.ParseJSON",
        "tasks.sample.Sample",
        "tasks.validate.Validate",
        "tasks.additional_fields.AdditionalFields",
        "tasks.stats.Stats",
        "tasks.links.CheckLinks",
        "tasks.summary.Summary",
        "tasks.report.Report",
        "tasks.json_to_spreadsheet.JSONToSpreadsheet",
    ],
)
if not ASSAY_PIPELINE:  # set but empty: nothing would be checked, and nothing said
    raise ImproperlyConfigured(
        "ASSAY_PIPELINE names no tasks; leave it unset for the built-in pipeline."
    )

# Profiles: what to check. More can be defined as [profiles.NAME] tables in ASSAY_CONFIG.
DEMO_EXAMPLES = ["grants-valid.json", "grants-invalid.json", "grants-valid.xlsx"]
DEMO_EXAMPLES += ["grants-invalid.xlsx", "grants.csv"]
ASSAY_PROFILES = {
    "demo": {
        "title": "Demo: grants data",
        "description": "An invented grants standard, with a schema and examples we wrote.",
        "schema": "profiles/demo/grants.schema.json",
        "root_list_path": "grants",
        "id_name": "id",
        "examples": [f"examples/demo/{name}" for name in DEMO_EXAMPLES],
        "distinct_fields": ["/grants/*/amount/currency"],
    },
    "generic": {"title": "Any JSON data", "description": "Checks that the data is well-formed."},
    **config.table("profiles"),
}
ASSAY_DEFAULT_PROFILE = config.str("ASSAY_DEFAULT_PROFILE", "demo")
if ASSAY_DEFAULT_PROFILE not in ASSAY_PROFILES:
    raise ImproperlyConfigured(
        f"ASSAY_DEFAULT_PROFILE names {ASSAY_DEFAULT_PROFILE!r}, which is not a profile."
    )

# Lifecycle of a submission.
ASSAY_EXPIRE_DAYS = config.int("ASSAY_EXPIRE_DAYS", 7, minimum=1)
ASSAY_MAX_ATTEMPTS = config.int("ASSAY_MAX_ATTEMPTS", 5, minimum=1)
ASSAY_RETRY_BASE_SECONDS = config.int("ASSAY_RETRY_BASE_SECONDS", 30)
ASSAY_HEARTBEAT_SECONDS = config.int("ASSAY_HEARTBEAT_SECONDS", 10, minimum=1)
ASSAY_STALE_SECONDS = config.int("ASSAY_STALE_SECONDS", 60, minimum=1)
if ASSAY_STALE_SECONDS < 3 * ASSAY_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "ASSAY_STALE_SECONDS must be at least three times ASSAY_HEARTBEAT_SECONDS, "
        "or live workers would look dead."
    )

# django-q2 is only the transport: our Submission row holds claim, heartbeat and
# retries, so django-q2 itself never retries (max_attempts=1). A job that outlives
# `retry` is delivered again, and that clock includes time spent queued inside the
# cluster, so retry stays far above timeout. ack_failures stays off: on the ORM broker
# it would delete failed jobs from the record.
ASSAY_JOB_TIMEOUT = config.int("ASSAY_JOB_TIMEOUT", 1800, minimum=10)
REDIS_URL = config.str("REDIS_URL", "")
# The queue of the deferred steps (spreadsheet downloads): by default the submissions'
# own. Given a name, they wait there for a cluster started with Q_CLUSTER_NAME set to it,
# and a long one never holds a worker a new report needs.
ASSAY_DEFERRED_QUEUE = config.str("ASSAY_DEFERRED_QUEUE", "")
if ASSAY_DEFERRED_QUEUE and not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", ASSAY_DEFERRED_QUEUE):
    raise ImproperlyConfigured(  # 100: what django-q2 keeps of a queue's name
        f"ASSAY_DEFERRED_QUEUE must be a name of letters, digits, - and _ (at most 100), "
        f"got {ASSAY_DEFERRED_QUEUE!r}."
    )
Q_CLUSTER = {
    "name": "assay",
    # django-q2 reads this when Q_CLUSTER_NAME names another queue (the deferred one);
    # that cluster's settings are these.
    "ALT_CLUSTERS": {},
    "workers": config.int("ASSAY_WORKERS", 2, minimum=1),
    "timeout": ASSAY_JOB_TIMEOUT,
    "retry": ASSAY_JOB_TIMEOUT * 2 + 600,
    "max_attempts": 1,
    "ack_failures": False,
    "catch_up": False,
    "poll": 0.5,
    "save_limit": 1000,
    "recycle": 200,
    # A worker process that grew past this (a huge file) is replaced after its job.
    "max_rss": config.int("ASSAY_WORKER_MAX_RSS_MB", 2048, minimum=64) * 1024,
    "sync": config.bool("ASSAY_QUEUE_SYNC", False),
}
if REDIS_URL:
    # Redis carries the jobs, and the cache holds django-q2's cluster statistics and the
    # API's rate-limit counts, shared by every process.
    Q_CLUSTER["redis"] = redis_url_with_timeouts(REDIS_URL)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url_with_timeouts(REDIS_URL),
        }
    }
else:
    Q_CLUSTER["orm"] = "default"

# Logs go to stderr, leaving stdout to commands' own output (`validate --format json`);
# in production as one JSON object a line, naming the submission and task they are
# about (webapp/logs.py).
LOG_FORMAT = config.choice("ASSAY_LOG_FORMAT", "json" if PRODUCTION else "plain", ("json", "plain"))
# Python's names, in any case, and the other names logging knows them by.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "WARN", "FATAL", "NOTSET")
ASSAY_LOG_LEVEL = config.choice("ASSAY_LOG_LEVEL", "INFO", LOG_LEVELS, upper=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "webapp.logs.ContextFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s",
        },
        "json": {"()": "webapp.logs.JSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": ASSAY_LOG_LEVEL},
}

# Spreadsheets: limits checked before a spreadsheet is opened.
ASSAY_MAX_SPREADSHEET_ROWS = config.int("ASSAY_MAX_SPREADSHEET_ROWS", 200_000, minimum=1)
ASSAY_MAX_SPREADSHEET_CELLS = config.int("ASSAY_MAX_SPREADSHEET_CELLS", 1_000_000, minimum=1)
ASSAY_MAX_SPREADSHEET_SHEETS = config.int("ASSAY_MAX_SPREADSHEET_SHEETS", 1000, minimum=1)
ASSAY_MAX_COMPRESSION_RATIO = config.int("ASSAY_MAX_COMPRESSION_RATIO", 100, minimum=1)
ASSAY_MAX_UNCOMPRESSED_BYTES = config.int(
    "ASSAY_MAX_UNCOMPRESSED_BYTES", 500 * 1024 * 1024, minimum=1
)

# Sample mode: later tasks look at only the first N items of each top-level list.
ASSAY_SAMPLE_ITEMS = config.int("ASSAY_SAMPLE_ITEMS", 1000, minimum=1)
# JSON files at least this large have the two halves of their main list read at once, in
# two processes (the worker and a forked copy); 0 reads every file in one.
ASSAY_READ_IN_TWO_BYTES = config.int("ASSAY_READ_IN_TWO_BYTES", 8_000_000)
ASSAY_LOST_JOB_SECONDS = config.int("ASSAY_LOST_JOB_SECONDS", 600, minimum=1)
# The JSON API: browsers on these origins may call it (CORS); none by default.
ASSAY_API_CORS_ORIGINS = config.list("ASSAY_API_CORS_ORIGINS", [])
# New submissions per client address per minute through the API.
ASSAY_API_SUBMISSIONS_PER_MINUTE = config.int("ASSAY_API_SUBMISSIONS_PER_MINUTE", 30, minimum=1)
# Proxies in front of Assay that each add the address they saw to X-Forwarded-For: the
# client is that many entries from its end. 0: the client is the connection's address.
ASSAY_TRUSTED_PROXIES = config.int("ASSAY_TRUSTED_PROXIES", 0)
# Previews of uploaded PDFs and images: pixels of one page or picture, and seconds poppler
# may take (a PDF bomb must not hang or exhaust a worker).
ASSAY_MAX_IMAGE_PIXELS = config.int("ASSAY_MAX_IMAGE_PIXELS", 40_000_000, minimum=1)
ASSAY_RENDER_TIMEOUT = config.int("ASSAY_RENDER_TIMEOUT", 30, minimum=1)
# Links in the data to documents: how many distinct URLs per submission, how many fetched
# at once (and at once from one host), how long a check is trusted, and each fetch's limits.
ASSAY_MAX_LINKS = config.int("ASSAY_MAX_LINKS", 200, minimum=1)
ASSAY_LINK_CONCURRENCY = config.int("ASSAY_LINK_CONCURRENCY", 8, minimum=1)
ASSAY_LINK_PER_HOST = config.int("ASSAY_LINK_PER_HOST", 2, minimum=1)
ASSAY_LINK_CACHE_HOURS = config.int("ASSAY_LINK_CACHE_HOURS", 24)
ASSAY_LINK_MAX_BYTES = config.int("ASSAY_LINK_MAX_BYTES", 20 * 1024 * 1024, minimum=1)
ASSAY_LINK_TIMEOUT = config.int("ASSAY_LINK_TIMEOUT", 20, minimum=1)
ASSAY_LINK_CHECK_SECONDS = config.int("ASSAY_LINK_CHECK_SECONDS", 600, minimum=1)
ASSAY_MAX_STORED_ERRORS = config.int("ASSAY_MAX_STORED_ERRORS", 1000, minimum=1)
