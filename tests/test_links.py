"""Links in the data to documents: each checked once, safely, with a preview when it can."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from tasks import links, preview, profile_schema
from tests.conftest import post_file, post_json
from webapp.models import TaskRun

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = Path(__file__).parent.parent / "examples" / "demo"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 200), "green").save(buffer, "PNG")
    return buffer.getvalue()


def pdf() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (612, 792), "white").save(buffer, "PDF", resolution=72)
    return buffer.getvalue()


def grants_linking(*urls: str) -> dict:
    grant = {"id": "G-001", "title": "T", "amount": {"value": 1, "currency": "GBP"}}
    grant["awardDate"] = "2024-01-01"
    grant["documents"] = [{"url": url} for url in urls]
    return {"grants": [grant]}


def links_of(submission) -> dict[str, dict]:
    return {row["url"]: row for row in submission.store.output("links").data["links"]}


def send_png(request, status: int, body: bytes, **headers: str) -> None:
    request.send_response(status)
    for name, value in {"Content-Type": "image/png", **headers}.items():
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def slow(request) -> None:
    time.sleep(3)
    request.send_response(200)
    request.end_headers()


def test_each_link_is_checked_and_described(client, http_server, settings):
    settings.ASSAY_LINK_TIMEOUT = 1
    settings.ASSAY_LINK_MAX_BYTES = 50_000
    http_server.serve("/letter.pdf", pdf(), content_type="application/pdf")
    http_server.serve("/logo.png", png(), content_type="image/png")
    http_server.serve("/page.pdf", b"<html>not a pdf</html>", content_type="text/html")
    http_server.serve("/broken.pdf", b"%PDF-1.4 garbage", content_type="application/pdf")
    http_server.serve("/huge.bin", b"x" * 100_000, content_type="application/octet-stream")
    http_server.redirect("/a", "/b")
    http_server.redirect("/b", "/letter.pdf")
    http_server.routes["/slow.pdf"] = slow
    names = ["letter.pdf", "logo.png", "page.pdf", "broken.pdf", "huge.bin", "a", "slow.pdf"]
    names += ["missing.pdf"]
    urls = {name: http_server.url(f"/{name}") for name in names}
    submission = post_json(client, grants_linking(*urls.values()))
    rows = links_of(submission)

    letter = rows[urls["letter.pdf"]]
    assert (letter["ok"], letter["status"], letter["content_type"]) == (
        True,
        200,
        "application/pdf",
    )
    assert letter["thumbnail"] and letter["places"][0]["path"] == "/grants/0/documents/0/url"
    thumbnail = client.get(f"/s/{submission.id}/files/links/{letter['thumbnail']}")
    assert Image.open(io.BytesIO(b"".join(thumbnail.streaming_content))).size == (200, 259)
    assert rows[urls["logo.png"]]["thumbnail"]
    assert (rows[urls["page.pdf"]]["content_type"], rows[urls["page.pdf"]].get("thumbnail")) == (
        "text/html", None,
    )  # fmt: skip
    assert (
        rows[urls["broken.pdf"]]["ok"]
        and "could not be read" in rows[urls["broken.pdf"]]["preview_error"]
    )
    assert (
        rows[urls["a"]]["redirects"] == 2 and rows[urls["a"]]["content_type"] == "application/pdf"
    )
    assert "larger than the limit" in rows[urls["huge.bin"]]["error"]
    assert "did not answer in time" in rows[urls["slow.pdf"]]["error"]
    assert "404" in rows[urls["missing.pdf"]]["error"]

    page = client.get(submission.get_absolute_url()).content.decode()
    assert "did not work</strong> (warnings, not schema errors)" in page
    report = client.get(f"/s/{submission.id}/files/report/report.json")
    warnings = json.loads(b"".join(report.streaming_content))["link_warnings"]
    assert {warning["url"] for warning in warnings} == {
        urls["huge.bin"], urls["slow.pdf"], urls["missing.pdf"],
    }  # fmt: skip
    assert submission.state == "done"


def test_a_private_address_is_refused_without_a_request(client, http_server, settings):
    settings.ASSAY_ALLOW_PRIVATE_URLS = False
    http_server.serve("/letter.pdf", pdf(), content_type="application/pdf")
    submission = post_json(client, grants_linking(http_server.url("/letter.pdf")))
    [row] = links_of(submission).values()
    assert not row["ok"] and "private or local address" in row["error"]
    assert http_server.hits == []


def test_a_link_checked_recently_is_not_fetched_again(client, http_server):
    http_server.serve("/logo.png", png(), content_type="image/png")
    data = grants_linking(http_server.url("/logo.png"))
    first = post_json(client, data)
    second = post_json(client, data)
    assert http_server.hits == ["/logo.png"]
    assert links_of(second)[http_server.url("/logo.png")]["thumbnail"]
    assert links_of(first) == links_of(second)


def test_an_unchanged_link_is_revalidated_and_keeps_its_thumbnail(client, http_server, settings):
    settings.ASSAY_LINK_CACHE_HOURS = 0
    body = png()
    asked = []

    def with_etag(request) -> None:
        asked.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            request.send_response(304)
            request.end_headers()
            return
        send_png(request, 200, body, ETag='"v1"')

    http_server.routes["/logo.png"] = with_etag
    data = grants_linking(http_server.url("/logo.png"))
    post_json(client, data)
    again = links_of(post_json(client, data))[http_server.url("/logo.png")]
    assert asked == [None, '"v1"']
    assert again["ok"] and again["revalidated"] and again["thumbnail"]


def test_links_in_a_spreadsheet_are_placed_in_their_cells(client):
    submission = post_file(client, EXAMPLES / "grants-valid.xlsx")
    rows = submission.store.output("links").data["links"]
    assert rows, "the demo workbook links to documents"
    place = rows[0]["places"][0]
    assert place["path"].startswith("/grants/")
    assert (place["source"]["sheet"], place["source"]["header"]) == ("documents", "documents/0/url")


def test_a_malformed_url_is_one_bad_row_not_a_failed_submission(client, http_server):
    http_server.serve("/logo.png", png(), content_type="image/png")
    malformed = ["http://[::1", "http://example.org:99999/a", "https://example.org:port/"]
    submission = post_json(client, grants_linking(http_server.url("/logo.png"), *malformed))
    rows = links_of(submission)
    assert submission.state == "done"
    for url in malformed:
        assert rows[url]["error"] == "This is not a valid URL."
    assert rows[http_server.url("/logo.png")]["ok"]


def test_a_link_whose_scheme_is_in_capitals_is_checked(client, http_server):
    http_server.serve("/logo.png", png(), content_type="image/png")
    shouted = http_server.url("/logo.png").replace("http://", "HTTP://")
    submission = post_json(client, grants_linking(shouted))
    assert links_of(submission)[shouted]["ok"]


def test_a_server_error_is_not_remembered_for_other_submissions(client, http_server):
    answers = iter([503, 200])
    body = png()

    def flaky(request) -> None:
        send_png(request, next(answers), body)

    http_server.routes["/logo.png"] = flaky
    data = grants_linking(http_server.url("/logo.png"))
    first = links_of(post_json(client, data))[http_server.url("/logo.png")]
    second = links_of(post_json(client, data))[http_server.url("/logo.png")]
    assert (first["ok"], second["ok"]) == (False, True)


def use_url_schema_with_link_fields(settings, http_server) -> None:
    """A profile whose schema, given by URL, says where links are ("format": "uri")."""
    document = {"type": "object", "properties": {"url": {"type": "string", "format": "uri"}}}
    grant = {"type": "object", "properties": {"documents": {"type": "array", "items": document}}}
    schema = {"type": "object", "properties": {"grants": {"type": "array", "items": grant}}}
    http_server.serve("/schema.json", json.dumps(schema).encode())
    profile = {"title": "Remote", "schema": http_server.url("/schema.json")}
    settings.ASSAY_PROFILES = {"remote": {**profile, "root_list_path": "grants"}}
    settings.ASSAY_DEFAULT_PROFILE = "remote"


def test_viewing_the_results_never_waits_on_a_schema_given_by_url(
    client, http_server, settings, monkeypatch
):
    use_url_schema_with_link_fields(settings, http_server)
    http_server.serve("/logo.png", png(), content_type="image/png")
    submission = post_json(client, grants_linking(http_server.url("/logo.png")))
    assert http_server.hits == ["/schema.json", "/logo.png"]
    # An hour later, the schema's host is down: the page is what it was, from the copy kept.
    monkeypatch.setattr(profile_schema, "KEPT_SECONDS", 0)
    http_server.serve("/schema.json", b"busy", status=503, content_type="text/plain")
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "Linked documents" in page and "1 distinct link checked" in page
    assert http_server.hits == ["/schema.json", "/logo.png"]
    assert TaskRun.objects.filter(submission=submission, task="report").count() == 1


def test_a_host_that_lets_a_link_time_out_is_not_waited_on_for_its_others(
    client, http_server, settings
):
    settings.ASSAY_LINK_TIMEOUT = 1
    settings.ASSAY_LINK_PER_HOST = 1
    answer = threading.Event()  # set once the test is done, so the server threads end

    def never(request) -> None:
        answer.wait(timeout=30)

    slow = [f"/slow-{number}.pdf" for number in range(5)]
    for path in slow:
        http_server.routes[path] = never
    http_server.serve("/logo.png", png(), content_type="image/png")
    urls = [http_server.url(path) for path in slow]
    urls[1] = urls[1].replace("http://", "http://reader@")  # the same host for all that
    other_host = http_server.url("/logo.png").replace("127.0.0.1", "localhost")
    try:
        rows = links_of(post_json(client, grants_linking(*urls, other_host)))
    finally:
        answer.set()
    assert [path for path in http_server.hits if path in slow] == slow[:1]
    assert "did not answer in time" in rows[urls[0]]["error"]
    for url in urls[1:]:
        assert rows[url]["error"] == (
            "Not checked: the server 127.0.0.1 did not answer in time for another link, "
            "so its other links were not waited for."
        )
    assert rows[other_host]["ok"]


def test_big_pictures_are_decoded_one_at_a_time(client, http_server, settings, monkeypatch):
    # Each takes memory in proportion to its pixels: eight at once, near the pixel limit,
    # took 3.6 GB.
    settings.ASSAY_LINK_PER_HOST = 4
    at_once, most = 0, 0
    real_write = preview.write_thumbnails

    def write_thumbnails(image, folder) -> None:
        nonlocal at_once, most
        at_once += 1
        most = max(most, at_once)
        time.sleep(0.3)  # room for another to start, were it allowed
        real_write(image, folder)
        at_once -= 1

    monkeypatch.setattr(preview, "write_thumbnails", write_thumbnails)
    side = 1500  # 2.25 million pixels: a big picture (see preview.BIG_PICTURE)
    for number in range(3):
        buffer = io.BytesIO()
        Image.new("RGB", (side, side), (number, 0, 0)).save(buffer, "PNG")
        http_server.serve(f"/big-{number}.png", buffer.getvalue(), content_type="image/png")
    urls = [http_server.url(f"/big-{number}.png") for number in range(3)]
    rows = links_of(post_json(client, grants_linking(*urls)))
    assert all(rows[url]["thumbnail"] for url in urls)
    assert most == 1


def test_links_are_not_fetched_past_the_time_allowed_for_them(client, http_server, settings):
    # Each answers, slowly, within its own time limit: 200 documents each slow to render
    # would otherwise keep the job past its own.
    settings.ASSAY_LINK_CHECK_SECONDS = 1
    settings.ASSAY_LINK_CONCURRENCY = 1

    def slowly(request) -> None:
        time.sleep(0.6)
        send_png(request, 200, png())

    paths = [f"/slow-{number}.png" for number in range(4)]
    for path in paths:
        http_server.routes[path] = slowly
    urls = [http_server.url(path) for path in paths]
    rows = links_of(post_json(client, grants_linking(*urls)))
    assert [path for path in http_server.hits if path in paths] == paths[:2]
    assert rows[urls[0]]["ok"] and rows[urls[1]]["ok"]
    for url in urls[2:]:
        assert rows[url]["error"] == (
            "Not checked: the time allowed for checking links (1 s) ran out."
        )


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("https://example.org/a.pdf", "https://Example.org:443/b.pdf"),
        ("http://example.org/a.pdf", "HTTP://reader@example.org:80/b.pdf"),
        ("http://[2001:db8::1]/a.pdf", "http://[2001:DB8::1]:80/b.pdf"),
    ],
)
def test_links_to_one_server_with_or_without_its_default_port_are_one_host(url, same):
    # Each host is asked at most ASSAY_LINK_PER_HOST links at a time, and one that let a
    # link time out is not waited on again: however its links name it.
    assert links.host_of(url) == links.host_of(same)
    assert links.host_of(url) != links.host_of(url.replace("/a.pdf", ":8080/a.pdf"))
