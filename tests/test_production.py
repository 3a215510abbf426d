"""Production settings (`DJANGO_ENV=production`): check --deploy is clean, static files are
served by whitenoise, missing settings fail fast; and /health/ for load balancers."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders

BASE_DIR = Path(settings.BASE_DIR)
PRODUCTION_SECRET = "Zr8q-production-test-key-3vN1xK9pLw2mT7cY5bH0dF4gJ6sA8eQ"


def _production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    # Only what a production deployment sets; nothing of the developer's own environment
    # (a .env file is read too, but real variables win over it).
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env.update(
        DJANGO_ENV="production",
        DEBUG="false",
        SECRET_KEY=PRODUCTION_SECRET,
        ALLOWED_HOSTS="hooks.example.com,testserver",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        CACHE_URL="locmemcache://",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    env.update(overrides)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_reports_no_issues_with_the_production_settings(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], _production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_production_refuses_to_start_without_a_required_setting(tmp_path):
    for missing in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL"):
        env = _production_env(tmp_path)
        del env[missing]

        result = _run(["manage.py", "check"], env)

        assert result.returncode == 1
        assert f"Set the {missing} environment variable" in result.stderr


SEAL_AND_OPEN = """
import django
django.setup()
from django.conf import settings
from flarelane.sealing import seal, unseal
print(settings.SECRET_KEY == settings.FIELD_ENCRYPTION_KEYS[0], len(settings.FIELD_ENCRYPTION_KEYS), unseal(seal("sk-1")))
"""


def test_empty_secret_settings_as_in_a_copied_env_example_count_as_unset(tmp_path):
    development = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    development.update(DJANGO_SETTINGS_MODULE="flarelane.settings", SECRET_KEY="", FIELD_ENCRYPTION_KEYS="")

    opened = _run(["-c", SEAL_AND_OPEN], development)
    refused = _run(["manage.py", "check"], _production_env(tmp_path, SECRET_KEY=""))

    assert opened.stdout == "True 1 sk-1\n", opened.stderr
    assert refused.returncode == 1
    assert "Set the SECRET_KEY environment variable: it signs sessions" in refused.stderr


def test_production_refuses_debug(tmp_path):
    result = _run(["manage.py", "check"], _production_env(tmp_path, DEBUG="true"))

    assert result.returncode == 1
    assert "DEBUG must be false when DJANGO_ENV is production" in result.stderr


SERVE_STATIC = """
import django
django.setup()
from django.templatetags.static import static
from django.test import Client
url = static("channels_webhook/console.css")
response = Client().get(url, secure=True, headers={"host": "hooks.example.com"})
print(url)
print(response.status_code, response.headers["Cache-Control"], response.headers["Strict-Transport-Security"])
print(Client().get("/admin/login/", headers={"host": "hooks.example.com"}).status_code)
"""


def test_production_serves_collected_static_files_hashed_and_forever_cacheable(tmp_path):
    env = _production_env(tmp_path, DJANGO_SETTINGS_MODULE="flarelane.settings")
    collected = _run(["manage.py", "collectstatic", "--noinput"], env)
    assert collected.returncode == 0, collected.stderr

    result = _run(["-c", SERVE_STATIC], env)

    assert result.returncode == 0, result.stderr
    url, served, plain_http = result.stdout.splitlines()
    assert (
        url.startswith("/static/channels_webhook/console.")
        and url.endswith(".css")
        and url != "/static/channels_webhook/console.css"
    )
    assert served == "200 max-age=315360000, public, immutable max-age=31536000; includeSubDomains; preload"
    assert plain_http == "301"  # HTTPS only


def test_health_reports_ok_when_the_database_answers(client, db):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_health_stays_reachable_over_plain_http_when_https_is_enforced(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/health/").status_code == 200
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}  # no slash, no redirect
    assert client.get("/admin/login/").status_code == 301


HEALTH = """
import django
django.setup()
from django.test import Client
response = Client().get("/health/")
print(response.status_code, response.content.decode())
"""


def test_health_is_503_when_the_database_cannot_be_reached(tmp_path):
    # A real unreachable database: a SQLite file in a folder that does not exist.
    env = _production_env(
        tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}", DJANGO_SETTINGS_MODULE="flarelane.settings"
    )
    env["SECURE_SSL_REDIRECT"] = "false"

    result = _run(["-c", HEALTH], env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '503 {"status": "unavailable", "database": "unreachable"}'
    assert "Health check: the database cannot be reached" in result.stderr


def test_console_pages_name_their_icon_and_favicon_ico_leads_to_it(client, db):
    login_page = client.get("/admin/login/").content.decode()
    old_way = client.get("/favicon.ico")

    assert '<link rel="icon" href="/static/channels_webhook/favicon.svg" type="image/svg+xml">' in login_page
    assert (old_way.status_code, old_way["Location"]) == (301, "/static/channels_webhook/favicon.svg")
    assert finders.find("channels_webhook/favicon.svg") is not None
