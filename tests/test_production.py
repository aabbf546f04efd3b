"""The production stack: settings, security headers, health, logs, and gunicorn serving."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django_q.conf import Conf

from process.context import current_submission, current_task, working_on
from tests.conftest import database_url_for_workers
from webapp.logs import ContextFilter, JSONFormatter

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent


def settings_in_a_fresh_process(env: dict[str, str], expression: str):
    """Read the settings as a production process would: they are fixed at import."""
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({expression}))"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=environment
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    environment = {name: value for name, value in os.environ.items() if name != "SECRET_KEY"}
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **environment,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "ASSAY_ENV": "production",
            "ASSAY_DATA_DIR": str(tmp_path),
        },
    )
    assert run.returncode != 0
    assert "SECRET_KEY" in run.stderr


def test_production_refuses_debug_pages(tmp_path):
    run = settings_in_a_fresh_process(
        {
            "ASSAY_ENV": "production",
            "ASSAY_DEBUG": "true",
            "SECRET_KEY": "k" * 40,
            "ASSAY_DATA_DIR": str(tmp_path),
        },
        "settings.DEBUG",
    )
    assert run.returncode != 0
    assert "ASSAY_DEBUG cannot be true with ASSAY_ENV=production" in run.stderr


def test_production_behind_tls_turns_on_secure_cookies_and_hsts(tmp_path):
    env = {
        "ASSAY_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "ASSAY_DATA_DIR": str(tmp_path),
        "ASSAY_BEHIND_TLS_PROXY": "true",
        "ASSAY_ALLOWED_HOSTS": "assay.example.org",
        "ASSAY_CSRF_TRUSTED_ORIGINS": "https://assay.example.org",
    }
    names = [
        "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "LOG_FORMAT",
    ]  # fmt: skip
    run = settings_in_a_fresh_process(env, f"{{n: getattr(settings, n) for n in {names!r}}}")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_SSL_REDIRECT": True,
        "ALLOWED_HOSTS": ["assay.example.org"],
        "CSRF_TRUSTED_ORIGINS": ["https://assay.example.org"],
        "LOG_FORMAT": "json",
    }


def test_redis_url_switches_the_broker_and_the_cache(tmp_path):
    env = {"REDIS_URL": "redis://127.0.0.1:6379/3", "ASSAY_DATA_DIR": str(tmp_path)}
    run = settings_in_a_fresh_process(
        env,
        "[settings.Q_CLUSTER.get('redis'), 'orm' in settings.Q_CLUSTER, "
        "settings.CACHES['default']['BACKEND']]",
    )
    assert json.loads(run.stdout) == [
        "redis://127.0.0.1:6379/3?socket_connect_timeout=2&socket_timeout=5",
        False,
        "django.core.cache.backends.redis.RedisCache",
    ]


def test_every_page_carries_the_security_headers_and_needs_no_inline_script(client):
    response = client.get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    page = response.content.decode()
    # What the policy forbids, the page must not need.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<style" not in page and " style=" not in page
    assert re.findall(r"""(?:src|href)=["']https?://""", page) == []  # no other host


def test_healthz_says_ok_when_the_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_answers_a_plain_http_probe_behind_a_tls_proxy(client, settings):
    # Load balancers and container checks ask over plain HTTP, without X-Forwarded-Proto.
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/").status_code == 301  # the pages themselves go to https
    assert client.get("/healthz").status_code == 200


def test_healthz_is_503_with_the_reason_when_the_broker_is_down(client, monkeypatch):
    # A Redis broker on a port where nothing listens: a real refused connection.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]) == ("unavailable", "ok")
    assert body["broker"].startswith("unreachable")


def test_json_logs_name_the_submission_and_the_task():
    record = logging.LogRecord("webapp.jobs", logging.INFO, __file__, 1, "step %s", ("done",), None)
    with working_on(current_submission, "abc-123"), working_on(current_task, "validate"):
        ContextFilter().filter(record)
    line = json.loads(JSONFormatter().format(record))
    assert line["message"] == "step done"
    assert (line["submission"], line["task"], line["level"]) == ("abc-123", "validate", "INFO")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_gunicorn_serves_assay_in_production_with_hashed_compressed_static_files(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "ASSAY_ENV": "production",
        "SECRET_KEY": "y" * 50,
        "ASSAY_DATA_DIR": str(tmp_path / "data"),
        "ASSAY_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": database_url_for_workers(),
        "PORT": str(port),
        "ASSAY_WEB_WORKERS": "2",
    }
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert collect.returncode == 0, collect.stderr
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "-c", "docker/gunicorn.conf.py", "webapp.wsgi"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                status, _, _ = fetch(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200
        status, body, headers = fetch(f"{base}/")
        assert status == 200 and b"Check your data" in body
        stylesheet = re.search(rb'href="(/static/css/assay\.[0-9a-f]{12}\.css)"', body)
        assert stylesheet, "the page links the hashed stylesheet"
        status, css, headers = fetch(base + stylesheet.group(1).decode())
        assert status == 200 and css
        assert "max-age=315360000" in headers.get("Cache-Control", "")
        assert (
            (tmp_path / "static" / stylesheet.group(1).decode().removeprefix("/static/"))
            .with_suffix(".css.gz")
            .exists()
        )
        icon = re.search(rb'rel="icon" href="(/static/favicon\.[0-9a-f]{12}\.svg)"', body)
        assert icon, "the page links the hashed icon"
        status, svg, headers = fetch(base + icon.group(1).decode())
        assert status == 200 and svg.startswith(b"<svg")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_a_deferred_queue_name_django_q2_could_not_use_is_refused_at_start(tmp_path):
    env = {"ASSAY_DATA_DIR": str(tmp_path), "ASSAY_DEFERRED_QUEUE": "down loads"}
    run = settings_in_a_fresh_process(env, "settings.ASSAY_DEFERRED_QUEUE")
    assert run.returncode != 0
    assert "ASSAY_DEFERRED_QUEUE must be a name of letters, digits, - and _" in run.stderr
    env["ASSAY_DEFERRED_QUEUE"] = "downloads"
    assert settings_in_a_fresh_process(env, "settings.ASSAY_DEFERRED_QUEUE").stdout.strip() == (
        '"downloads"'
    )
