"""Settings, all from the environment (see .env.example). Safe defaults: DEBUG off, no hosts."""

import sys
from pathlib import Path

import environ

from config import dbdriver  # noqa: F401  (binds Django to psycopg2 before any backend loads)

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

DEBUG = env.bool("DEBUG", default=False)
# Under pytest (or DJANGO_TESTING=1) a throwaway key and plain static storage are used.
TESTING = env.bool("DJANGO_TESTING", default="pytest" in sys.modules)
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "insecure-development-key-do-not-use-in-production"
    else:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SECRET_KEY must be set in the environment when DEBUG is off (see .env.example)")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "procrastinate.contrib.django",
    "common",
    "grid",
    "lanes",
    "people",
    "cases",
    "notify",
    "patrols",
    "stats",
    "open311",
    "maps",
]

MIDDLEWARE = [
    # First (outermost): the database being unreachable answers 503 + Retry-After, never a 500 (common/resilience.py).
    "common.resilience.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy with a per-request nonce for inline <script>/<style> (common/csp.py).
    "common.csp.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # 429 + Retry-After on public endpoints beyond their per-address limit, shared via the cache (common/ratelimit.py).
    "common.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "common.csp.nonce",
            ],
            "libraries": {"csp": "common.csp"},
        },
    }
]

# PostGIS only. Persistent connections (CONN_MAX_AGE) keep the hot paths at one statement per lookup.
DATABASES = {"default": env.db("DATABASE_URL", default="postgis://postgres@127.0.0.1:54329/lanechief")}
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})
if env("TEST_DB_NAME", default=""):
    DATABASES["default"]["TEST"]["NAME"] = env("TEST_DB_NAME")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One SRID for every geometry field: WGS-84 longitude/latitude. Distances and areas are computed in
# metres on the geography type (or in a local UTM projection for grid generation), never in degrees.
GEO_SRID = 4326

if TESTING:
    # Fast hashing in tests only; production keeps Django's PBKDF2 default.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / ".staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / ".media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "common.access.BasicAuthentication",  # DRF's, with credentials the database cannot hold refused (401)
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "common.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "街巷长制网格化管理 API (Lane chief grid management)",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Offline: no call to validator.swagger.io from the browser.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # stats: the unit levels of indicators, rankings and satisfaction surveys (another "level" is the area level)
    "ENUM_NAME_OVERRIDES": {"StatsUnitLevelEnum": "stats.models.SurveyLevel"},
}

# Map base layers: "osm", "tianditu" (needs TIANDITU_KEY), "amap" (GCJ-02), a URL template, or "none".
MAP_TILES = env("MAP_TILES", default="none")
TIANDITU_KEY = env("TIANDITU_KEY", default="")

# Public address of the site, for QR codes on printed placards (default: the request's host).
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="")

# Largest bounding box (square degrees) a lane/area list may ask for with in_bbox.
BBOX_MAX_DEG2 = env.float("BBOX_MAX_DEG2", default=1.0)

# Nearest-lane search radius defaults (metres).
LANE_NEAREST_DEFAULT_M = env.float("LANE_NEAREST_DEFAULT_M", default=50.0)
LANE_NEAREST_MAX_M = env.float("LANE_NEAREST_MAX_M", default=5000.0)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Notifications (notify/): webhooks are signed with this secret and refused without it.
NOTIFY_WEBHOOK_SECRET = env("NOTIFY_WEBHOOK_SECRET", default="")
NOTIFY_EVENT_TITLES = {"patrols.missed_lanes": "漏巡提醒"}
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="noreply@localhost")

# Cache (throttling of public endpoints, small map caches). Per process by default; point CACHE_URL at a shared cache
# (e.g. dbcache://django_cache after `manage.py createcachetable`) when running several web processes.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# Site-wide limits of the public endpoints per client address (common/ratelimit.py): RATE_LIMITS overrides rules,
# e.g. "lookup=600/minute,track=60/hour"; off under tests unless a test turns it on, and for benchmarks.
RATE_LIMITS = env.dict("RATE_LIMITS", default={})
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=not TESTING)

# Production hardening (all overridable from the environment).
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# The CSRF cookie stays readable by our own scripts (the patrol phone page sends it as X-CSRFToken); HttpOnly on it
# adds nothing (Django's docs, CSRF_COOKIE_HTTPONLY).
SESSION_COOKIE_SAMESITE = env("SESSION_COOKIE_SAMESITE", default="Lax")
CSRF_COOKIE_SAMESITE = env("CSRF_COOKIE_SAMESITE", default="Lax")
# HTTPS: behind a TLS proxy set BEHIND_TLS_PROXY=true (trusts X-Forwarded-Proto: https from it), SECURE_SSL_REDIRECT
# and SECURE_HSTS_SECONDS (see .env.example); off by default so a plain-HTTP intranet set-up keeps working.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (common/csp.py); CSP_ENABLED=false only to debug a page.
CSP_ENABLED = env.bool("CSP_ENABLED", default=True)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Uploaded import files (boundaries, rosters) larger than this are refused.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=200 * 1024 * 1024)

# Indicators and rankings (stats.indicators.run_statements): their independent statements run on up to this many
# database connections at once, on one shared snapshot; 1 runs them one after the other.
STATS_PARALLEL_STATEMENTS = env.int("STATS_PARALLEL_STATEMENTS", default=4)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "procrastinate": {"level": "WARNING"}},
}

SILENCED_SYSTEM_CHECKS = [
    # Debian 12 ships GDAL 3.6; GDAL only opens boundary files that staff import on the command line.
    "gis.W001",
    # PAGE_SIZE applies to the views that declare a paginator (GeoJsonPagination); others are unpaginated.
    "rest_framework.W001",
]
