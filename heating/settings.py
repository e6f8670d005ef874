"""One settings module, driven by the environment; the defaults are production's.

Production sets SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL (see docker-compose.yml) and
is served over HTTPS. A developer's checkout asks for DEBUG in `local.env`, which `make setup`
writes (with this machine's own secret key); the environment wins over that file.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


load_dotenv(os.environ.get("LOCAL_ENV", BASE_DIR / "local.env"), override=False)

# Off unless asked: a server started with nothing set shows no tracebacks and settings.
DEBUG = envbool("DEBUG", "False")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (a developer's checkout: run `make setup`, "
            "which writes local.env)"
        )
    SECRET_KEY = "dev-only-not-secret"

# The households' 一卡通 account numbers are encrypted at rest (subsidies/, django-fernet-encrypted-
# fields): the key is derived from SECRET_KEY and this salt, both from the environment (make setup
# writes a random one into local.env). A list rotates: the first encrypts, all decrypt.
SALT_KEY: str | list[str] = os.environ.get("FIELD_ENCRYPTION_SALT", "xinzhou-subsidies-accounts")

ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    # The admin's modules are loaded with the URLs, not at every start-up (heating/apps.py).
    "heating.apps.AdminLoadedWithTheURLs",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "import_export",
    "simple_history",
    "django_filters",
    "heating.apps.LoginLockoutConfig",  # django-axes
    "heating",
    "retrofits",
    "energy_supply",
    "acceptance",
    "aftercare",  # tickets (工单) after the works, stable running (七(五))
    "subsidies",  # 补贴与资金: policies, meters, entitlements (docs/subsidies.md)
    # The top floor: the city's oversight (dashboards, dispatch), reading every domain app.
    "oversight",
    "oversight.dispatch",
    "oversight.evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # What a signed-in user is shown (ID and phone numbers, a county's ledger) stays off shared
    # office machines' caches and the proxy's: Cache-Control: no-store.
    "heating.http.no_store_for_users",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:
    # gunicorn serves static files itself in production; runserver does it under DEBUG.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "heating.urls"
WSGI_APPLICATION = "heating.wsgi.application"

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
                "oversight.dispatch.context.unread_alerts",
                "heating.context.plan_years",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", 0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "heating.User"
# django-axes first: it counts failed logins and refuses a locked-out username before the password
# is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15))
# By username, from wherever the attempts come; an administrator can unlock early in the admin.
# Not by address: a county office's officials share one NAT address, and one colleague's typos
# would lock them all out (hence axes.W006 silenced below).
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Searches a user may make in a minute (the household list, the worklist): as people type, but
# not a script trying numbers.
SEARCHES_PER_MINUTE = envint("SEARCHES_PER_MINUTE", 60)
LOGIN_URL = "login"
# Everyone lands on their dashboard: the city's, or their county's.
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
FORMAT_MODULE_PATH = ["heating.formats"]
# Always Chinese, whatever language the browser asks for.
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
# Chinese for what Django 5.2 and django-axes ship untranslated (the admin's index, the add-user
# page, the lockout pages): locale/zh_Hans, compiled by `make locale` (python, polib).
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# Uploaded spreadsheets larger than this are refused with a clear message.
MAX_UPLOAD_MB = envint("MAX_UPLOAD_MB", 50)
# Bounds of one uploaded sheet, checked before it is parsed (heating/sheet_reader.py): its rows (a
# larger file is split), its size once unzipped, and the memory of the process that parses it.
MAX_UPLOAD_ROWS = envint("MAX_UPLOAD_ROWS", 300_000)
MAX_UNCOMPRESSED_MB = envint("MAX_UNCOMPRESSED_MB", 600)
# Rows of one supply file (contracts, grid or gas works): a city's are a few thousand.
MAX_SUPPLY_ROWS = envint("MAX_SUPPLY_ROWS", 20_000)
SHEET_READ_MEMORY_MB = envint("SHEET_READ_MEMORY_MB", 1024)
# How many ID numbers registered in another county one county user may meet a day, across
# uploads, dry runs and forms (retrofits/services/conflicts.py): within it each is refused by row,
# past it the whole submission, and the bureau is alerted.
ID_CONFLICT_DAILY_BUDGET = envint("ID_CONFLICT_DAILY_BUDGET", 5)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Served over HTTPS, as production is (a TLS proxy in front of gunicorn): cookies only over HTTPS,
# HSTS, and http redirected. Off under DEBUG, and for `make run`, which serves http on 127.0.0.1.
HTTPS = envbool("HTTPS", "False" if DEBUG else "True")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = HTTPS
# Offices share machines: a session ends when the browser closes, and after a working day idle
# (each request starts the day again).
SESSION_EXPIRE_AT_BROWSER_CLOSE = envbool("SESSION_EXPIRE_AT_BROWSER_CLOSE", "1")
SESSION_COOKIE_AGE = envint("SESSION_IDLE_HOURS", 8) * 3600
SESSION_SAVE_EVERY_REQUEST = True
# The admin's exports (django-import-export) write text that a spreadsheet would run as a formula
# as text, as the portal's own writers do (heating.sheets.neutralise).
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
# A change record is read, never "reverted": a revert would write past the services and their
# rules (households, contracts, targets).
SIMPLE_HISTORY_REVERT_DISABLED = True
SECURE_HSTS_SECONDS = envint("HSTS_SECONDS", 31_536_000) if HTTPS else 0
# The proxy says which scheme the browser used; trust the header only when one is there.
if envbool("BEHIND_PROXY", "False"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Scripts only from this site's own static files: no inline script, no eval (static/js/portal.js
# does what inline handlers did). Inline styles stay allowed: ECharts' tooltips and htmx's
# indicator write style attributes and a style element, and a style cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Without Redis, Celery runs every task in the calling process, so `make run` needs nothing else.
REDIS_URL = os.environ.get("REDIS_URL", "")
# One cache for every process (the search throttle, the supply figures) where Redis is there.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# Without a worker (make run) a file made in the background is made by a thread of the web
# process (heating/exports.py), so that its page answers at once all the same.
EXPORTS_IN_THREAD = CELERY_TASK_ALWAYS_EAGER
# An export larger than this many rows is made in the background, with a progress bar.
EXPORT_INLINE_ROWS = envint("EXPORT_INLINE_ROWS", 5000)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# Seconds after a household write before the figures are counted again (once for all the writes
# of that time); 0 counts at once.
ROLLUP_DEBOUNCE_SECONDS = envint("ROLLUP_DEBOUNCE_SECONDS", 30)
# Seconds between beat's counts of the whole ledger (heating/celery.py, beat's schedule).
ROLLUP_SECONDS = envint("ROLLUP_SECONDS", 300)
# A weekly round is due this many days after it opens, at 17:00.
DISPATCH_DUE_DAYS = envint("DISPATCH_DUE_DAYS", 2)

# E-mail for alerts: the console under DEBUG (make run), SMTP from the environment in production.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "False")
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "清洁取暖调度 <noreply@localhost>")
# The portal's address, for the links in e-mails.
PORTAL_URL = os.environ.get("PORTAL_URL", "http://127.0.0.1:8000")

# django-import-export: the admin keeps uploads between preview and confirm in the cache-free media store.
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"
IMPORT_EXPORT_SKIP_ADMIN_LOG = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
FIXTURES_DIR = BASE_DIR / "fixtures"

SILENCED_SYSTEM_CHECKS = [
    "axes.W006",  # see AXES_LOCKOUT_PARAMETERS
    # HSTS for this host only: other hosts of the intranet's domain may serve plain http, and an
    # intranet name has no place on the browsers' preload list.
    "security.W005",
    "security.W021",
]
