"""Submitting data from the home page, each way it can come."""

import re
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from process.files import over_the_limit
from tests.conftest import fixture, submission_from, upload
from webapp.models import Submission
from webapp.submissions import create_submission
from webapp.templatetags.assay import size

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_home_page_offers_the_three_ways_and_sample_mode(client):
    page = client.get("/").content.decode()
    assert 'type="file"' in page
    assert 'name="url"' in page
    assert "<textarea" in page
    assert 'name="sample"' in page


def test_the_profile_choice_is_hidden_when_there_is_only_one(client, settings):
    settings.ASSAY_PROFILES = {"generic": settings.ASSAY_PROFILES["generic"]}
    settings.ASSAY_DEFAULT_PROFILE = "generic"
    page = client.get("/").content.decode()
    assert '<input type="hidden" name="profile" value="generic"' in page


def test_an_error_in_the_hidden_profile_choice_is_still_shown(client, settings):
    settings.ASSAY_PROFILES = {"generic": settings.ASSAY_PROFILES["generic"]}
    settings.ASSAY_DEFAULT_PROFILE = "generic"
    page = client.post("/", {"text": "{}", "profile": "gone"}).content.decode()
    assert "There is no profile “gone”." in page
    assert re.search(r'<input type="file"[^>]*autofocus', page)  # not the hidden input
    assert Submission.objects.count() == 0


def test_the_profile_choice_is_offered_when_there_are_several(client, settings):
    settings.ASSAY_PROFILES = {**settings.ASSAY_PROFILES, "other": {"title": "Another standard"}}
    page = client.get("/").content.decode()
    assert '<select name="profile"' in page
    assert "Another standard" in page


def test_uploading_a_file_leads_to_its_results(client):
    submission = upload(client, "grants.json")
    page = client.get(submission.get_absolute_url())
    assert page.status_code == 200
    text = page.content.decode()
    assert "<h1>Results</h1>" in text
    assert "grants.json" in text
    assert "<code>/grants</code>" in text
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE
    assert submission.source == Submission.Source.FILE
    assert submission.format == "json"
    assert submission.size == fixture("grants.json").stat().st_size
    assert len(submission.sha256) == 64


def test_pasting_text_leads_to_its_results(client):
    response = client.post("/", {"text": '[{"id": 1}, {"id": 2}]'})
    submission = submission_from(response)
    text = client.get(response["Location"]).content.decode()
    assert "Its top level is an <strong>array</strong>" in text
    assert submission.source == Submission.Source.TEXT
    assert submission.original_name == "pasted.json"
    download = client.get(f"/s/{submission.id}/original")
    assert 'filename="pasted.json"' in download["Content-Disposition"]


def test_pasted_text_that_is_not_json_keeps_a_plain_name(client):
    submission = submission_from(client.post("/", {"text": "id,title\nG1,A grant\n"}))
    assert (submission.original_name, submission.format) == ("pasted.txt", "csv")


def test_giving_a_url_fetches_it_and_leads_to_its_results(client, http_server):
    http_server.serve("/data/grants.json", fixture("grants.json").read_bytes())
    response = client.post("/", {"url": http_server.url("/data/grants.json")})
    submission = submission_from(response)
    text = client.get(response["Location"]).content.decode()
    assert "<code>/grants</code>" in text
    assert http_server.url("/data/grants.json") in text
    submission.refresh_from_db()
    assert submission.source == Submission.Source.URL
    assert submission.original_name == "grants.json"
    assert submission.original_path.read_bytes() == fixture("grants.json").read_bytes()


def test_sample_mode_is_recorded_and_said_on_the_page(client, settings):
    settings.ASSAY_SAMPLE_ITEMS = 2
    submission = upload(client, "grants.json", sample="on")
    text = client.get(submission.get_absolute_url()).content.decode()
    assert submission.options == {"sample": True}
    assert "Sample mode:" in text
    assert "first 2 items" in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose a file, give a URL, or paste some data."),
        (
            {"text": "[1]", "url": "https://example.org/a.json"},
            "Give only one of a file, a URL or pasted text (you gave a URL and pasted text).",
        ),
        ({"url": "ftp://example.org/a.json"}, "Only http:// and https:// URLs"),
        ({"url": "https://example.org:99999/a.json"}, "cannot be read: Port out of range"),
        ({"text": "   "}, "Choose a file, give a URL, or paste some data."),
        ({"text": "\ufeff \n"}, "Choose a file, give a URL, or paste some data."),
        ({"text": " \ufeff\ufeff "}, "Choose a file, give a URL, or paste some data."),
        ({"url": "https://example.org/" + "a" * 2000}, "This URL has 2020 characters; Assay"),
        ({"url": "https://example.org/" + "a" * 3000}, "takes URLs of up to 2000. Download"),
    ],
)
def test_bad_submissions_are_explained_and_nothing_is_stored(client, data, message):
    response = client.post("/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Enter a valid URL" not in response.content.decode()
    assert Submission.objects.count() == 0


def test_a_file_sent_with_a_fault_elsewhere_is_asked_for_again(client):
    with fixture("grants.json").open("rb") as handle:
        response = client.post("/", {"file": handle, "url": "not a url"})
    page = response.content.decode()
    assert "Choose the file (grants.json) again: a page sent back cannot keep" in page
    assert "Choose the file" not in client.post("/", {"url": "not a url"}).content.decode()


def test_a_button_s_address_opened_as_a_page_points_to_the_page_with_the_button(client):
    submission = upload(client, "grants.json")
    for address, page in [
        (f"/s/{submission.id}/retry", submission.get_absolute_url()),
        (f"/s/{submission.id}/tasks/json_to_spreadsheet", submission.get_absolute_url()),
        ("/examples/demo/0", "/"),
    ]:
        response = client.get(address)
        assert (response.status_code, response["Allow"]) == (405, "POST")
        text = response.content.decode()
        assert "This address is a button" in text
        assert f'<a href="{page}">Go to the page with the button</a>' in text
    assert Submission.objects.count() == 1  # and nothing was done


def test_pasted_text_of_no_format_assay_reads_is_called_pasted_text(client):
    response = client.post("/", {"text": '<?xml version="1.0"?><grants/>'}, follow=True)
    words = " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
    assert "Assay could not recognise the pasted text: it looks like XML" in words
    assert "Check what you pasted: all of it, and nothing else." in words
    assert "Check other data" in words
    assert "chose the right file" not in words


def test_a_refused_form_says_so_in_its_title_and_points_at_the_problem(client):
    page = client.post("/", {"url": "ftp://example.org/a.json"}).content.decode()
    assert "<title>Error: Check your data" in page
    url_input = re.search(r"<input type=\"url\"[^>]*>", page).group(0)
    assert "id_url_error" in re.search(r'aria-describedby="([^"]+)"', url_input).group(1)
    assert "autofocus" in url_input  # the cursor is where the problem is
    described = re.search(r'id="id_url_error"[^>]*>(.*?)</div>', page, re.S).group(1)
    assert "Only http:// and https:// URLs" in described


def test_the_url_field_lets_a_browser_take_a_url_of_any_length(client):
    page = client.get("/").content.decode()
    assert "<title>Check your data" in page
    assert "maxlength" not in re.search(r"<input type=\"url\"[^>]*>", page).group(0)


@pytest.mark.parametrize("data", [None, {"url": "ftp://example.org/a.json"}, {}])
def test_every_description_a_field_points_to_is_on_the_page(client, data):
    page = (client.get("/") if data is None else client.post("/", data)).content.decode()
    pointed = {
        target
        for targets in re.findall(r'aria-describedby="([^"]+)"', page)
        for target in targets.split()
    }
    assert pointed
    assert all(f'id="{target}"' in page for target in pointed), pointed


def test_the_form_states_its_size_limits_before_they_are_met(client, settings):
    settings.ASSAY_MAX_UPLOAD_BYTES = 3 * 1024 * 1024
    settings.ASSAY_MAX_TEXT_BYTES = 2048
    page = client.get("/").content.decode()
    assert 'id="id_file_helptext">Up to 3\xa0MB.' in page
    assert 'id="id_text_helptext">Up to 2\xa0KB; upload more as a file.' in page


def test_an_empty_file_is_refused_with_a_reason(client):
    with fixture("empty.json").open("rb") as handle:
        response = client.post("/", {"file": handle})
    assert "The file is empty" in response.content.decode()
    assert Submission.objects.count() == 0


def test_a_file_over_the_limit_is_refused_stating_the_limit(client, settings):
    settings.ASSAY_MAX_UPLOAD_BYTES = 100
    with fixture("grants.json").open("rb") as handle:
        response = client.post("/", {"file": handle})
    assert "the limit is 100\xa0bytes" in response.content.decode()
    assert Submission.objects.count() == 0


def test_a_size_just_over_the_limit_is_not_said_to_be_the_limit_s_size():
    limit = 100 * 1024 * 1024
    assert over_the_limit(limit + 1, limit, size) == (
        "104,857,601 bytes; the limit is 104,857,600 bytes"  # not "100.0 MB; ... 100.0 MB"
    )
    assert over_the_limit(3 * limit, limit, size) == "300\xa0MB; the limit is 100\xa0MB"
    assert over_the_limit(1536, 1024, size) == "1.5\xa0KB; the limit is 1\xa0KB"


def test_pasted_text_over_the_limit_is_refused_stating_the_limit(client, settings):
    settings.ASSAY_MAX_TEXT_BYTES = 10
    response = client.post("/", {"text": "[" + "1," * 20 + "1]"})
    assert "the limit is 10\xa0bytes" in response.content.decode()
    assert Submission.objects.count() == 0


def test_the_form_needs_its_csrf_token():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/", {"text": "[1]"})
    assert response.status_code == 403
    page = " ".join(response.content.decode().split())
    assert "could not be accepted" in page and "Open the form again" in page
    assert "<style" not in page  # Django's own page has inline styles our CSP blocks


def test_a_form_too_large_to_read_gets_a_page_that_says_what_to_do(settings):
    from django.test import Client

    # Read by the CSRF check before the form: Django refuses it there, with our page.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    browser = Client(enforce_csrf_checks=True)
    browser.get("/")  # the form's page sets the CSRF cookie, as for a person
    token = browser.cookies["csrftoken"].value
    response = browser.post("/", {"csrfmiddlewaretoken": token, "text": "x" * 2000})
    assert response.status_code == 400
    page = " ".join(response.content.decode().split())
    assert "The request could not be read" in page
    assert "Upload larger data as a file instead" in page


@pytest.mark.parametrize(("sent", "ticked"), [("off", False), ("0", False), ("on", True)])
def test_the_form_shown_again_ticks_sample_mode_only_when_it_was_on(client, sent, ticked):
    page = client.post("/", {"text": "", "sample": sent}).content.decode()  # no data: an error
    box = re.search(r'<input type="checkbox" name="sample"[^>]*>', page)[0]
    assert ("checked" in box) == ticked


def test_a_form_sent_back_shows_its_url_without_the_password(client):
    url = "https://reader:s3cret-pw@example.org/data.json"
    response = client.post("/", {"url": url, "text": '{"grants": []}'})
    html = response.content.decode()
    assert "Give only one of a file, a URL or pasted text" in html
    assert "s3cret-pw" not in html
    assert 'value="https://reader@example.org/data.json"' in html
    assert "The password in the URL was left out: type it again." in html


def test_storing_an_upload_keeps_no_lock_that_a_worker_would_wait_on(media_root, queue):
    """A worker's heartbeat is written while a large upload is still being copied: on
    SQLite a transaction around the copy held the one write lock all that time."""
    other = Submission.objects.create(source="text", profile="demo")
    beats: list[float] = []

    def heartbeat() -> None:
        started = time.monotonic()
        Submission.objects.filter(id=other.id).update(heartbeat=timezone.now())
        beats.append(time.monotonic() - started)
        connection.close()

    def slow_upload() -> Iterator[bytes]:
        yield b'{"grants": ['
        worker = threading.Thread(target=heartbeat)
        worker.start()
        worker.join(timeout=5)  # the copy goes on; a heartbeat kept waiting is too late
        yield b"]}"

    create_submission(source=Submission.Source.FILE, profile="demo", chunks=slow_upload())
    assert beats and beats[0] < 5
