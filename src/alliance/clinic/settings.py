"""Every setting of the clinic app, read from the environment in this one module.

Only ``DATABASE_URL`` is ever needed (default: SQLite in the data directory). The secret key comes from
``ALLIANCE_SECRET_KEY`` or the file named by ``ALLIANCE_SECRET_KEY_FILE``; with neither, a random key is made once
and kept in ``<data dir>/secret_key`` (mode 0600). There is no default secret. The encryption keys of data at rest
(docs/encryption.md) follow the same pattern: ``ALLIANCE_ENCRYPTION_KEYS`` (comma-separated Fernet keys, the first
encrypts, all decrypt), else ``ALLIANCE_ENCRYPTION_KEYS_FILE``, else ``<data dir>/encryption_keys`` made once (0600).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

ENV = os.environ
BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(ENV.get("ALLIANCE_DATA_DIR", Path.cwd() / "var")).resolve()


def _flag(name: str, default: bool) -> bool:
    value = ENV.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def _int(name: str, default: int) -> int:
    value = ENV.get(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def _secret_key() -> str:
    if ENV.get("ALLIANCE_SECRET_KEY"):
        key = ENV["ALLIANCE_SECRET_KEY"]
    elif ENV.get("ALLIANCE_SECRET_KEY_FILE"):
        try:
            key = Path(ENV["ALLIANCE_SECRET_KEY_FILE"]).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"ALLIANCE_SECRET_KEY_FILE: cannot read ({exc.strerror})") from None
    else:
        path = DATA_DIR / "secret_key"
        if not path.exists():
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
        key = path.read_text().strip()
    if len(key) < 32:
        raise ImproperlyConfigured("the secret key must be at least 32 characters long")
    return key


def _fernet_key_problem(key: str) -> str | None:
    """Say why ``key`` is not a Fernet key (32 bytes, url-safe base64), or return ``None``."""
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return "is not url-safe base64"
    if len(raw) != 32:
        return f"decodes to {len(raw)} bytes, not 32"
    return None


def _encryption_keys() -> list[str]:
    """The keys of data at rest: environment, else a named file, else a file generated once (one key per line)."""
    if ENV.get("ALLIANCE_ENCRYPTION_KEYS"):
        source, text = "ALLIANCE_ENCRYPTION_KEYS", ENV["ALLIANCE_ENCRYPTION_KEYS"]
    else:
        if ENV.get("ALLIANCE_ENCRYPTION_KEYS_FILE"):
            path = Path(ENV["ALLIANCE_ENCRYPTION_KEYS_FILE"])
        else:
            path = DATA_DIR / "encryption_keys"
            if not path.exists():
                DATA_DIR.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
        source = f"encryption key file {path}"
        try:
            text = path.read_text()
        except OSError as exc:
            raise ImproperlyConfigured(f"{source}: cannot read ({exc.strerror})") from None
    keys = [key.strip() for key in text.replace("\n", ",").split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured(f"{source}: no encryption key (make one with `alliance keys generate`)")
    for number, key in enumerate(keys, start=1):
        problem = _fernet_key_problem(key)
        if problem:
            raise ImproperlyConfigured(
                f"{source}: key {number} {problem}; a Fernet key is 32 random bytes in url-safe base64 "
                "(make one with `alliance keys generate`)"
            )
    return keys


def _database() -> dict[str, Any]:
    url = ENV.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'alliance.sqlite3'}"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL we can use: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers run beside the writer; synchronous=FULL makes an acknowledged write durable;
        # IMMEDIATE takes the write lock at BEGIN so concurrent writers queue instead of failing mid-way;
        # secure_delete overwrites deleted rows, so erased client data does not linger in free pages of the file.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
            "PRAGMA secure_delete=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        config.setdefault("OPTIONS", {})
    else:
        raise ImproperlyConfigured(f"DATABASE_URL: only SQLite and PostgreSQL are supported, not {config['ENGINE']}")
    config["ATOMIC_REQUESTS"] = False
    config["TEST"] = {"NAME": ENV.get("ALLIANCE_TEST_DATABASE") or None}
    return config


SECRET_KEY = _secret_key()
# Data at rest (transcripts, and later notes and identity): the first key encrypts, every key decrypts.
ALLIANCE_ENCRYPTION_KEYS = _encryption_keys()
DEBUG = _flag("ALLIANCE_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in ENV.get("ALLIANCE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")]
# The address clients use to reach the check-in links (shown as URL and QR code).
PUBLIC_URL = ENV.get("ALLIANCE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "alliance.clinic.accounts",
    "alliance.clinic.practice",
    "alliance.clinic.checkins",
    "alliance.clinic.alerts",
    "alliance.clinic.audit",
    "alliance.clinic.api",
    "alliance.clinic.support",
    "alliance.clinic.listening",
]

MIDDLEWARE = [
    # Outermost, so that every response (redirects and static files included) carries the CSP and friends.
    "alliance.clinic.headers.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "alliance.clinic.accounts.middleware.SessionTimeoutMiddleware",
    "alliance.clinic.accounts.middleware.KioskLockMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "alliance.clinic.urls"
WSGI_APPLICATION = "alliance.clinic.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
    }
]

DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",  # argon2id (Django's default Argon2 variant)
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Staff sessions: idle timeout (every request renews it) and an absolute limit (REFERENCE §9: ≤ 30 min, ≤ 12 h).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = _int("ALLIANCE_SESSION_IDLE_SECONDS", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
ALLIANCE_SESSION_ABSOLUTE_SECONDS = _int("ALLIANCE_SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60)
SECURE_COOKIES = _flag("ALLIANCE_SECURE_COOKIES", True)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# The Referer never leaves the site (check-in addresses carry their secret). Not "no-referrer": with it, browsers
# send "Origin: null" on form posts, which Django's CSRF check rightly refuses (docs/security-accounts.md).
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# HSTS goes out on every HTTPS response (SecurityMiddleware sends it only over HTTPS).
SECURE_HSTS_SECONDS = _int("ALLIANCE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
if _flag("ALLIANCE_BEHIND_HTTPS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True

# Two-factor sign-in (TOTP) for every member of staff, on unless a site turns it off (docs/security-accounts.md).
ALLIANCE_MFA_REQUIRED = _flag("ALLIANCE_MFA_REQUIRED", True)
# How long the half-signed-in step (password right, code not yet given) may last.
ALLIANCE_MFA_PENDING_SECONDS = _int("ALLIANCE_MFA_PENDING_SECONDS", 5 * 60)
# Lockout: this many failures within the window lock the account (or the address) for ALLIANCE_LOCKOUT_SECONDS.
ALLIANCE_LOCKOUT_ACCOUNT_FAILURES = _int("ALLIANCE_LOCKOUT_ACCOUNT_FAILURES", 5)
ALLIANCE_LOCKOUT_ADDRESS_FAILURES = _int("ALLIANCE_LOCKOUT_ADDRESS_FAILURES", 20)
ALLIANCE_LOCKOUT_WINDOW_SECONDS = _int("ALLIANCE_LOCKOUT_WINDOW_SECONDS", 15 * 60)
ALLIANCE_LOCKOUT_SECONDS = _int("ALLIANCE_LOCKOUT_SECONDS", 15 * 60)
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL] if PUBLIC_URL.startswith(("http://", "https://")) else []

# Check-in links: how long a one-time link stays valid.
ALLIANCE_CHECKIN_LINK_MINUTES = _int("ALLIANCE_CHECKIN_LINK_MINUTES", 180)
# The support tool's follow-up questionnaire is answered at home between sessions: its link stays open longer.
ALLIANCE_FOLLOWUP_LINK_HOURS = _int("ALLIANCE_FOLLOWUP_LINK_HOURS", 72)
# Session transcripts: largest upload, and how long a running analysis may go without a sign of life before
# another worker takes it over.
ALLIANCE_TRANSCRIPT_MAX_BYTES = _int("ALLIANCE_TRANSCRIPT_MAX_BYTES", 2 * 1024 * 1024)
ALLIANCE_ANALYSIS_STALE_SECONDS = _int("ALLIANCE_ANALYSIS_STALE_SECONDS", 10 * 60)
# Instruments a site adds (licensed SRS, WAI-SR ...): directories of definition files.
ALLIANCE_INSTRUMENTS_DIR = ENV.get("ALLIANCE_INSTRUMENTS_DIR", "")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = ENV.get("ALLIANCE_TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from finders; an empty root keeps it quiet
STATICFILES_DIRS = [BASE_DIR / "static"]  # alliance.clinic itself is not an app, so its static/ needs naming
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

EMAIL_BACKEND = ENV.get("ALLIANCE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = ENV.get("ALLIANCE_FROM_EMAIL", "alliance@localhost")
EMAIL_HOST = ENV.get("ALLIANCE_EMAIL_HOST", "localhost")
EMAIL_PORT = _int("ALLIANCE_EMAIL_PORT", 25)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": ENV.get("ALLIANCE_LOG_LEVEL", "WARNING")},
}
