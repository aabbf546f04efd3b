from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf

from webapp.models import Submission

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def queue(monkeypatch) -> Iterator[Broker]:
    """Jobs go to the configured broker (ORM or Redis), not run in-process; starts empty."""
    monkeypatch.setattr(Conf, "SYNC", False)
    broker = get_broker()
    broker.purge_queue()  # Redis keeps its queue from one test to the next
    yield broker
    broker.purge_queue()


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """The API's rate limit counts in the cache: each test starts with none spent."""
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def pillows_guard() -> Iterator[None]:
    """Previews set Pillow's process-wide pixel limit from the settings, which tests
    lower: each test starts from Pillow's own."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = limit


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    """Each test has a data folder of its own, as the workers it starts do. Link checks
    and schemas fetched are kept there for a day: in a shared folder, a test serving on
    a port an earlier test (or run) had got that test's answers."""
    settings.DATA_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def pytest_collection_modifyitems(config, items) -> None:
    """Tests of the production stack belong to the run on that stack (.ci/run makes one).

    They are left out, not skipped, elsewhere: on that stack, a missing service fails."""
    from django.conf import settings

    if settings.POSTGRES and settings.REDIS_URL:
        return
    elsewhere = [item for item in items if item.get_closest_marker("production_stack")]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if item not in elsewhere]


def database_url_for_workers() -> str:
    """DATABASE_URL for a process of our own (a worker) that must use the test database."""
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    credentials = quote(settings["USER"]) + (
        f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    )
    host = f"{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{settings['NAME']}"


def python_calls(function: Callable[..., Any], *args: Any) -> tuple[int, Any]:
    """How many Python functions a call of ``function`` calls (the work it does, however
    long it takes), and what it returns."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        returned = function(*args)
    finally:
        sys.setprofile(None)
    return calls, returned


def fixture(name: str) -> Path:
    return FIXTURES / name


def upload(client: Client, name: str, **fields) -> Submission:
    """Upload a fixture file through the home page; return the submission."""
    with fixture(name).open("rb") as handle:
        response = client.post("/", {"file": handle, **fields})
    assert response.status_code == 302, response.content.decode()[:2000]
    return submission_from(response)


def post_file(client: Client, path: Path, **fields) -> Submission:
    """Upload any file through the home page; return the submission."""
    with path.open("rb") as handle:
        response = client.post("/", {"file": handle, **fields})
    assert response.status_code == 302, response.content.decode()[:2000]
    return submission_from(response)


def post_json(client: Client, data: Any, **fields) -> Submission:
    """Upload ``data`` as a JSON file through the home page; return the submission."""
    upload = SimpleUploadedFile("data.json", json.dumps(data).encode(), "application/json")
    response = client.post("/", {"file": upload, **fields})
    assert response.status_code == 302, response.content.decode()[:2000]
    return submission_from(response)


def submission_from(response) -> Submission:
    submission_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    return Submission.objects.get(id=submission_id)


# A local HTTP server stands in for the remote servers people point Assay at.

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class LocalServer:
    host: str
    port: int
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def serve(
        self, path: str, body: bytes, status: int = 200, content_type: str = "application/json"
    ):
        def handler(request: BaseHTTPRequestHandler) -> None:
            request.send_response(status)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)

        self.routes[path] = handler

    def redirect(self, path: str, target: str, status: int = 302) -> None:
        def handler(request: BaseHTTPRequestHandler) -> None:
            request.send_response(status)
            request.send_header("Location", target)
            request.send_header("Content-Length", "0")
            request.end_headers()

        self.routes[path] = handler


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    server_box: dict[str, LocalServer] = {}

    class RequestHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            local = server_box["server"]
            local.hits.append(self.path)
            handler = local.routes.get(self.path)
            if handler is None:
                self.send_error(404)
            else:
                handler(self)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    httpd.daemon_threads = True
    server_box["server"] = LocalServer("127.0.0.1", httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server_box["server"]
    httpd.shutdown()
    httpd.server_close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A browser test that fails leaves a screenshot in test-artifacts/ (kept by CI)."""
    report = yield
    page = item.funcargs.get("page") or item.funcargs.get("page_without_javascript")
    if report.when == "call" and report.failed and page is not None:
        folder = Path(__file__).resolve().parent.parent / "test-artifacts"
        folder.mkdir(exist_ok=True)
        page.screenshot(path=str(folder / f"{item.name}.png"), full_page=True)
        (folder / f"{item.name}.html").write_text(page.content())
    return report
