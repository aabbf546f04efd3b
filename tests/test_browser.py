"""End to end in a real Chromium: the live app, a real worker, what a person sees and does.

Needs Debian's Chromium (/usr/bin/chromium) and axe-core (`make browser-deps`). Without
them these tests are skipped on a laptop, and fail where ASSAY_BROWSER_TESTS=required
(CI).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.conf import Conf

from tests.conftest import fixture
from tests.test_worker_integration import (  # noqa: F401 (cluster: a fixture, the real worker)
    cluster,
    running_cluster,
)
from webapp.models import Submission
from webapp.submissions import create_submission

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "demo"
CHROMIUM = Path(os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WAIT_MS = 30_000


def require(what: str, present: bool) -> None:
    if present:
        return
    message = f"{what} is missing: run `make browser-deps`"
    if os.environ.get("ASSAY_BROWSER_TESTS") == "required":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    require("Chromium", CHROMIUM.exists())
    from playwright.sync_api import sync_playwright

    # Playwright runs an event loop in this thread while the browser is open; the
    # tests' own database calls beside it are synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
            )
            yield launched
            launched.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def app(live_server, cluster):  # noqa: F811
    """The live server and a real worker."""
    return live_server


@pytest.fixture
def worker_later(live_server, media_root, monkeypatch) -> Iterator[Callable[[], None]]:
    """The live server, whose real worker starts when the test calls this: a page can be
    seen before the work is done, however quickly a worker would have done it."""
    monkeypatch.setattr(Conf, "SYNC", False)  # submissions wait in the queue meanwhile
    with ExitStack() as started:
        yield lambda: started.enter_context(running_cluster(media_root))


@contextmanager
def open_page(browser, **options) -> Iterator:
    """A page in a fresh browser context (its own cookies), closed afterwards."""
    context = browser.new_context(**options)
    context.set_default_timeout(WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser) -> Iterator:
    # bypass_csp only so that the tests can inject axe-core; the pages get no such leave.
    with open_page(browser, bypass_csp=True) as opened:
        yield opened


@pytest.fixture
def page_without_javascript(browser) -> Iterator:
    with open_page(browser, java_script_enabled=False) as opened:
        yield opened


def submit_file(page, base: str, path: Path) -> None:
    page.goto(f"{base}/")
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Check the data").click()


def test_an_upload_shows_progress_then_the_results_without_a_reload(
    page, live_server, worker_later
):
    submit_file(page, live_server.url, EXAMPLES / "grants-invalid.json")
    page.get_by_role("progressbar").wait_for()
    assert page.title() == "Checking grants-invalid.json… · Assay"
    worker_later()
    page.get_by_text("✗ Not valid: 13 errors").wait_for()  # the page left by itself
    assert page.title() == "grants-invalid.json: results · Assay"
    assert page.get_by_role("heading", name="Check against the schema").is_visible()
    assert page.get_by_text("“currency” is missing").first.is_visible()


def test_the_progress_page_names_the_step_under_way_as_it_updates(page, app):
    submit_file(page, app.url, EXAMPLES / "grants-valid.json")
    page.get_by_text("✓ Valid.").first.wait_for()
    # Then, as if a worker were on its third step of four:
    Submission.objects.update(
        state=Submission.State.RUNNING,
        heartbeat=timezone.now(),
        claimed_by="busy-worker:1",
        progress_done=2,
        progress_total=4,
        current_task="parse_json",
    )
    label = page.locator("#progress-label")
    with page.expect_response(re.compile(r"/api/submissions/")):
        page.reload()  # the page as sent, then as its script updates it
        assert " ".join(label.inner_text().split()) == "Step 3 of 4: Read the JSON"
    page.wait_for_timeout(300)  # for the script to write what it was sent
    assert " ".join(label.inner_text().split()) == "Step 3 of 4: Read the JSON"


def test_a_url_is_fetched_and_checked(page, app, http_server):
    http_server.serve("/grants.json", (EXAMPLES / "grants-valid.json").read_bytes())
    page.goto(f"{app.url}/")
    page.get_by_label("Or give a URL").fill(http_server.url("/grants.json"))
    page.get_by_role("button", name="Check the data").click()
    page.get_by_text("✓ Valid.").first.wait_for()


def test_pasted_text_is_checked(page, app):
    page.goto(f"{app.url}/")
    page.get_by_label("Or paste the data").fill('{"grants": [{"id": "G-1"}]}')
    page.get_by_role("button", name="Check the data").click()
    page.get_by_text("✗ Not valid").first.wait_for()


def test_an_example_can_be_tried_from_the_home_page(page, app):
    page.goto(f"{app.url}/")
    page.get_by_role("button", name="grants-invalid.xlsx").click()
    page.get_by_text("✗ Not valid: 12 errors").wait_for()
    assert page.get_by_text("sheet grants, row 2, column E (amount/currency)").first.is_visible()


def test_a_malformed_file_ends_on_the_error_page_saying_where(page, app):
    submit_file(page, app.url, fixture("malformed.json"))
    page.get_by_role("heading", name="Assay could not finish checking this data").wait_for()
    assert page.get_by_text("line 4, column 5").is_visible()
    assert page.get_by_text("What to do:").is_visible()


def test_an_expired_submission_shows_the_expired_page(page, app):
    submission = create_submission(
        source=Submission.Source.TEXT, profile="demo", chunks=[b"{}"], name="old.json"
    )
    Submission.objects.filter(id=submission.id).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    response = page.goto(f"{app.url}{submission.get_absolute_url()}")
    assert response.status == 410
    assert page.get_by_role("heading", name="This submission has expired").is_visible()


def test_the_progress_page_of_a_submission_deleted_meanwhile_says_it_is_gone(
    page, live_server, worker_later
):
    waiting = create_submission(
        source=Submission.Source.TEXT, profile="demo", chunks=[b"{}"], name="a.json"
    )  # no worker yet: it waits
    page.goto(f"{live_server.url}{waiting.get_absolute_url()}")
    assert page.title() == "Checking a.json… · Assay"
    Submission.objects.filter(id=waiting.id).delete()  # an operator, in the admin
    page.get_by_role("heading", name="Page not found").wait_for()  # not "lost contact"


def test_a_run_waiting_to_try_again_gives_its_time_in_utc_as_the_rest_of_the_site(
    page, live_server, worker_later
):
    waiting = create_submission(
        source=Submission.Source.TEXT, profile="demo", chunks=[b"{}"], name="a.json"
    )
    retry_at = timezone.now().replace(microsecond=0) + timedelta(minutes=10)
    Submission.objects.filter(id=waiting.id).update(retry_at=retry_at, enqueued_at=None)
    page.goto(f"{live_server.url}{waiting.get_absolute_url()}")
    # As the script has it, once it has asked for the status (the page's own words differ).
    page.get_by_text(f"Assay will try again at {retry_at:%H:%M:%S} UTC.").wait_for()


def test_the_live_step_and_note_are_rewritten_only_when_they_change(
    page, live_server, worker_later
):
    # Each rewrite of a live region is read out again by a screen reader: at every poll
    # it would repeat the step, second after second.
    waiting = create_submission(
        source=Submission.Source.TEXT, profile="demo", chunks=[b"{}"], name="a.json"
    )
    page.goto(f"{live_server.url}{waiting.get_absolute_url()}")
    page.evaluate(
        """() => { window.rewrites = 0;
        const seen = new MutationObserver(found => { window.rewrites += found.length; });
        for (const id of ["progress-label", "progress-note"]) {
          seen.observe(document.getElementById(id), {childList: true, subtree: true,
                                                     characterData: true}); } }"""
    )
    page.wait_for_timeout(3_500)  # the page asks for the status every second at first
    assert page.evaluate("window.rewrites") == 0
    Submission.objects.filter(id=waiting.id).update(
        state="running", heartbeat=timezone.now(), progress_done=1, progress_total=8,
        current_task="parse_json",
    )  # fmt: skip
    page.get_by_text("Step 2 of 8").wait_for()
    assert page.evaluate("window.rewrites") > 0


def test_without_javascript_the_progress_page_still_reaches_the_results(
    page_without_javascript, live_server, worker_later
):
    page = page_without_javascript
    submit_file(page, live_server.url, EXAMPLES / "grants-valid.json")
    page.get_by_role("progressbar").wait_for()
    assert page.title() == "Checking grants-valid.json… · Assay"
    worker_later()
    page.get_by_text("✓ Valid.").first.wait_for()  # the page refreshes itself
    assert page.title() == "grants-valid.json: results · Assay"


def test_the_report_and_the_spreadsheets_download(page, app, tmp_path):
    submit_file(page, app.url, EXAMPLES / "grants-invalid.json")
    page.get_by_text("✗ Not valid").first.wait_for()
    with page.expect_download() as report:
        page.get_by_role("link", name="The report (JSON)").click()
    document = json.loads(Path(report.value.path()).read_bytes())
    assert document["error_count"] == 13

    page.get_by_role("button", name="Make spreadsheets").click()
    link = page.get_by_role("link", name=re.compile("Excel"))
    link.wait_for()  # made by the worker; the page reloads itself when it is ready
    with page.expect_download() as workbook:
        link.click()
    assert Path(workbook.value.path()).read_bytes()[:2] == b"PK"  # a zip: an XLSX


def axe_violations(page) -> list[dict]:
    require("axe-core", AXE.exists())
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run()")
    return [
        {"id": violation["id"], "impact": violation["impact"], "help": violation["help"]}
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_no_serious_accessibility_problems_on_any_kind_of_page(page, live_server, worker_later):
    app = live_server
    pending = create_submission(
        source=Submission.Source.TEXT, profile="demo", chunks=[b"{}"], name="a.json"
    )
    Submission.objects.filter(id=pending.id).update(state="running", heartbeat=timezone.now())
    found = {}
    page.goto(f"{app.url}/")
    found["home"] = axe_violations(page)
    page.goto(f"{app.url}{pending.get_absolute_url()}")
    assert page.title() == "Checking a.json… · Assay"  # no worker yet to finish it
    found["progress"] = axe_violations(page)
    worker_later()
    submit_file(page, app.url, EXAMPLES / "grants-invalid.xlsx")
    page.get_by_text("✗ Not valid").first.wait_for()
    found["results"] = axe_violations(page)
    submit_file(page, app.url, fixture("malformed.json"))
    page.get_by_role("heading", name="Assay could not finish checking this data").wait_for()
    found["error"] = axe_violations(page)
    Submission.objects.filter(id=pending.id).update(expires_at=timezone.now())
    page.goto(f"{app.url}{pending.get_absolute_url()}")
    found["expired"] = axe_violations(page)
    print(f"\naxe-core, serious or critical violations: {found}")
    assert found == {name: [] for name in found}


def test_the_home_page_is_small_and_asks_no_other_host(page, app):
    sizes: dict[str, int] = {}
    page.on("response", lambda response: sizes.update({response.url: len(response.body())}))
    page.goto(f"{app.url}/")
    page.wait_for_load_state("networkidle")
    assert all(url.startswith(app.url) for url in sizes)
    total = sum(sizes.values())
    print(f"\nhome page: {len(sizes)} requests, {total} bytes")
    assert total < 100 * 1024


def test_pages_fit_a_320_pixel_screen_and_work_from_the_keyboard(browser, app):
    with open_page(browser, viewport={"width": 320, "height": 640}) as page:
        page.goto(f"{app.url}/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        # From the keyboard alone: skip link first, then on to the form's controls.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.get_by_label("Or paste the data").focus()
        page.keyboard.type('{"grants": []}')
        page.get_by_role("button", name="Check the data").focus()
        page.keyboard.press("Enter")
        page.get_by_text("✗ Not valid").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        # What is wrong is on the screen, not in a column to be scrolled to.
        problem = page.locator('table.errors td[data-label="What is wrong"]').first
        box = problem.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
        assert problem.inner_text()


def test_a_phone_shows_each_conversion_warning_whole_and_no_serious_problem(browser, app, tmp_path):
    data = tmp_path / "grants.csv"  # an amount that is no number: a conversion warning
    data.write_text("id,title,amount/value,amount/currency,awardDate\nG-001,T,lots,GBP,x\n")
    phone = {"viewport": {"width": 390, "height": 844}, "bypass_csp": True}  # for axe-core
    with open_page(browser, **phone) as page:
        submit_file(page, app.url, data)
        page.get_by_text("✗ Not valid").first.wait_for()
        # The warning itself on the screen, not in a column to be scrolled to.
        warning = page.locator('td[data-label="Warning"]').first
        box = warning.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert warning.inner_text()
        assert axe_violations(page) == []


def test_a_long_address_and_type_do_not_widen_a_phone_s_page(browser, app, http_server):
    name = "/" + "grants" * 60 + ".xlsx"  # nowhere to break
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    http_server.serve(name, (EXAMPLES / "grants-invalid.xlsx").read_bytes(), content_type=xlsx)
    with open_page(browser, viewport={"width": 320, "height": 640}) as page:
        page.goto(f"{app.url}/")
        page.get_by_label("Or give a URL").fill(http_server.url(name))
        page.get_by_role("button", name="Check the data").click()
        page.get_by_text("✗ Not valid").first.wait_for()
        assert page.get_by_text(xlsx).is_visible()  # the download's facts are on the page
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
