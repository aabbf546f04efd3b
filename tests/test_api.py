"""The JSON API: every status code it promises, each body checked against /api/openapi.json."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from html import unescape
from types import SimpleNamespace
from urllib.parse import urlsplit
from uuid import uuid4

import jsonschema
import pytest
import referencing
import referencing.jsonschema
from django.conf import settings as live_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.html import strip_tags
from PIL import Image

from tests.conftest import fixture
from webapp.models import Submission

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = fixture("grants.json").parent.parent.parent / "examples" / "demo"


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def check(document: dict, response, path: str, method: str) -> dict:
    """The response's body matches what the document says for its path, method and status."""
    described = document["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in described, f"{method.upper()} {path} answered {status}, not documented"
    schema = described[status]["content"]["application/json"]["schema"]
    resource = referencing.Resource.from_contents(
        document, default_specification=referencing.jsonschema.DRAFT202012
    )
    registry = referencing.Registry().with_resource("urn:assay:openapi", resource)
    body = json.loads(
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    jsonschema.Draft202012Validator(
        {"$ref": f"urn:assay:openapi{schema['$ref']}"},
        registry=registry,
        format_checker=jsonschema.FormatChecker(),
    ).validate(body)
    for header in described[status].get("headers", {}):
        assert response.has_header(header), header
    return body


def create(client, **data):
    return client.post("/api/submissions", data)


def test_the_document_is_valid_openapi_3_1(document):
    from openapi_spec_validator import validate

    validate(document)
    assert document["openapi"] == "3.1.0"


def request_schema_validator(document: dict, content_type: str):
    schema = document["paths"]["/api/submissions"]["post"]["requestBody"]["content"]
    resource = referencing.Resource.from_contents(
        document, default_specification=referencing.jsonschema.DRAFT202012
    )
    registry = referencing.Registry().with_resource("urn:assay:openapi", resource)
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:assay:openapi{schema[content_type]['schema']['$ref']}"}, registry=registry
    )


def test_a_multipart_body_is_described_with_a_url_or_text_as_well_as_a_file(document):
    # curl -F url=... and -F 'text=<data.json' are multipart, and are accepted.
    multipart = request_schema_validator(document, "multipart/form-data")
    for body in [{"file": "..."}, {"url": "https://example.org/d.json"}, {"text": "{}"}]:
        assert multipart.is_valid({**body, "profile": "demo"}), body
    assert not multipart.is_valid({"file": "...", "url": "https://example.org/d.json"})
    assert not multipart.is_valid({"profile": "demo"})


def test_what_may_be_read_may_be_asked_for_its_headers_alone(client):
    submission_id = create(client, text="{}").json()["id"]
    for path in ["/api/openapi.json", f"/api/submissions/{submission_id}"]:
        assert client.head(path).status_code == 200, path
    assert client.head("/api/submissions").status_code == 405  # only POST there
    allowed = client.options(f"/api/submissions/{submission_id}")["Allow"]
    assert set(allowed.split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_a_file_upload_is_created_with_links_and_a_location(client, document):
    with (EXAMPLES / "grants-invalid.json").open("rb") as handle:
        response = client.post("/api/submissions", {"file": handle, "profile": "demo"})
    assert response.status_code == 201
    body = check(document, response, "/api/submissions", "post")
    assert response["Location"] == body["links"]["self"]
    assert body["links"]["report"].endswith(f"/api/submissions/{body['id']}/report")
    assert Submission.objects.get(id=body["id"]).original_name == "grants-invalid.json"


def test_json_with_text_and_a_form_with_a_url_are_accepted(client, document, http_server):
    text = (EXAMPLES / "grants-valid.json").read_text()
    as_json = client.post(
        "/api/submissions",
        json.dumps({"text": text, "sample": True}),
        content_type="application/json",
    )
    assert as_json.status_code == 201
    check(document, as_json, "/api/submissions", "post")
    assert Submission.objects.get(id=as_json.json()["id"]).options == {"sample": True}

    http_server.serve("/data.json", text.encode())
    as_form = create(client, url=http_server.url("/data.json"))
    assert as_form.status_code == 201
    submission = Submission.objects.get(id=as_form.json()["id"])
    assert (submission.source, submission.state) == ("url", "done")


@pytest.mark.parametrize(
    ("sent", "sampled"),
    [
        *[(said, True) for said in ("on", "1", "yes", "true", "TRUE ")],
        *[(said, False) for said in ("0", "no", "off", "false", "")],
    ],
)
def test_sample_mode_in_a_form_reads_what_scripts_send(client, sent, sampled):
    response = create(client, text=(EXAMPLES / "grants-valid.json").read_text(), sample=sent)
    assert response.status_code == 201
    assert Submission.objects.get(id=response.json()["id"]).options == {"sample": sampled}


def test_sample_mode_in_a_form_that_says_neither_on_nor_off_is_refused(client, document):
    response = create(client, text="{}", sample="maybe")
    problem = check(document, response, "/api/submissions", "post")["error"]
    assert (response.status_code, problem["code"], problem["field"]) == (400, "invalid", "sample")
    assert problem["message"].startswith("Sample mode is on or off: give true or false")
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        ({}, "no_source", "Choose a file, give a URL, or paste some data."),
        ({"url": "https://example.org/a.json", "text": "{}"}, "two_sources", "only one"),
        ({"text": "{}", "profile": "nope"}, "unknown_profile", "There is no profile “nope”."),
        ({"url": "ftp://example.org/a.json"}, "invalid_url", "URL"),
        ({"url": "https://example.org:99999/a.json"}, "invalid_url", "Port out of range"),
        ({"url": "https://example.org/" + "a" * 2100}, "invalid_url", "This URL has 2120 char"),
    ],
)
def test_bad_submissions_are_400_with_a_code(client, document, data, code, words):
    response = create(client, **data)
    assert response.status_code == 400
    body = check(document, response, "/api/submissions", "post")
    assert body["error"]["code"] == code
    assert words in body["error"]["message"]


@pytest.mark.parametrize(
    ("parts", "field", "words"),
    [
        ({"text": SimpleUploadedFile("a.json", b"{}")}, "text", "“text” was sent as a file"),
        ({"url": SimpleUploadedFile("u.txt", b"https://a/")}, "url", "curl -F 'url=<data.json'"),
        ({"file": "{}"}, "file", "“file” was sent as text: send it as a file"),
    ],
)
def test_a_field_sent_as_the_wrong_kind_of_part_says_how_to_send_it(
    client, document, parts, field, words
):
    response = client.post("/api/submissions", parts)
    problem = check(document, response, "/api/submissions", "post")["error"]
    assert (response.status_code, problem["code"], problem["field"]) == (400, "invalid", field)
    assert words in problem["message"]
    assert not Submission.objects.exists()


def test_a_file_over_the_limit_is_400_stating_the_limit(client, document, settings):
    settings.ASSAY_MAX_UPLOAD_BYTES = 10
    content = b"[" + b"1," * 20 + b"1]"
    assert len(content) == 43
    response = client.post("/api/submissions", {"file": SimpleUploadedFile("a.json", content)})
    assert response.status_code == 400
    body = check(document, response, "/api/submissions", "post")
    assert body["error"] == {
        "code": "too_large",
        "message": "The file is 43\xa0bytes; the limit is 10\xa0bytes.",
        "field": "file",
        "limit": 10,
    }


def test_text_under_the_limit_is_accepted_however_much_json_escapes_it(client, document):
    # Every quote in the text is sent as \" and every backslash as \\: the body is
    # twice the text, which once passed Django's own limit and got a bare HTML 400.
    text = json.dumps({"grants": [], "note": '"' * 2_400_000})
    limit = live_settings.ASSAY_MAX_TEXT_BYTES
    assert 4_500_000 < len(text) < limit
    body = json.dumps({"text": text})
    assert len(body) > 1.9 * len(text) > limit + 64 * 1024
    response = client.post("/api/submissions", body, content_type="application/json")
    assert response.status_code == 201
    check(document, response, "/api/submissions", "post")


def test_text_too_large_to_read_is_a_json_error_naming_the_limit(client, document, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # as a body of 30 MB meets the real one
    response = client.post(
        "/api/submissions", json.dumps({"text": "x" * 2000}), content_type="application/json"
    )
    assert response.status_code == 400
    body = check(document, response, "/api/submissions", "post")
    assert body["error"]["code"] == "too_large"
    assert body["error"]["field"] == "text"
    assert body["error"]["limit"] == settings.ASSAY_MAX_TEXT_BYTES
    assert "Upload it as a file instead" in body["error"]["message"]


def test_an_over_size_body_is_413_without_being_read(client, document, settings):
    settings.ASSAY_MAX_UPLOAD_BYTES = 1000
    response = client.post("/api/submissions", b"x" * 200_000, content_type="application/json")
    assert response.status_code == 413
    body = check(document, response, "/api/submissions", "post")
    assert body["error"]["limit"] == 1000
    assert not Submission.objects.exists()


def test_a_body_that_is_not_a_form_or_json_is_415(client, document):
    response = client.post("/api/submissions", "{}", content_type="text/plain")
    assert response.status_code == 415
    check(document, response, "/api/submissions", "post")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("[1]", "The body is not a JSON object: expected an object"),
        ("not json", "The body is not a JSON object: Expecting value"),
        ('{"text": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ],
)
def test_a_json_body_that_is_not_the_expected_object_is_400(client, document, body, words):
    response = client.post("/api/submissions", body, content_type="application/json")
    assert response.status_code == 400
    problem = check(document, response, "/api/submissions", "post")["error"]
    assert problem["code"] == "invalid_json"
    assert words in problem["message"]
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ('{"text": 5}', "text", "“text” must be a string, not a number."),
        ('{"url": ["x"]}', "url", "“url” must be a string, not a list."),
        ('{"text": "{}", "sample": "yes"}', "sample", "“sample” must be true or false."),
        ('{"text": "[\\ud800]"}', "text", "“text” holds a lone surrogate, which is not text."),
    ],
)
def test_a_field_of_the_wrong_kind_is_named_not_blamed_on_the_body(
    client, document, body, field, message
):
    response = client.post("/api/submissions", body, content_type="application/json")
    assert response.status_code == 400
    problem = check(document, response, "/api/submissions", "post")["error"]
    assert (problem["code"], problem["field"], problem["message"]) == ("invalid", field, message)
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "field", "message"),
    [
        (
            '{"text": "{}", "profle": "demo"}',
            "application/json",
            "profle",
            "“profle” is not a field of a submission, which has “url”, “text”, “profile” "
            "and “sample”.",
        ),
        (
            '{"file": "{}"}',
            "application/json",
            "file",
            "A file cannot be sent in JSON: send it as multipart (curl -F file=@data.json), "
            "or send its text as “text”.",
        ),
        (
            "text=%7B%7D&smaple=true",
            "application/x-www-form-urlencoded",
            "smaple",
            "“smaple” is not a field of a submission, which has “file”, “url”, “text”, "
            "“profile” and “sample”.",
        ),
    ],
)
def test_a_field_the_api_does_not_read_is_refused_not_left_out(
    client, document, body, content_type, field, message
):
    # Left out, a misspelt profile would check the data against the default one, unsaid.
    response = client.post("/api/submissions", body, content_type=content_type)
    assert response.status_code == 400
    problem = check(document, response, "/api/submissions", "post")["error"]
    assert (problem["code"], problem["field"], problem["message"]) == ("invalid", field, message)
    assert not Submission.objects.exists()


def test_a_multipart_part_the_api_does_not_read_is_refused(client, document):
    parts = {"file": SimpleUploadedFile("a.json", b"{}"), "schema": SimpleUploadedFile("s", b"{}")}
    response = client.post("/api/submissions", parts)
    problem = check(document, response, "/api/submissions", "post")["error"]
    assert (response.status_code, problem["field"]) == (400, "schema")
    assert problem["message"].startswith("“schema” is not a field of a submission")
    assert not Submission.objects.exists()


class Clock:
    """The API's clock, stopped at a moment the tests move by hand."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Twenty seconds into a minute: the limit counts per minute, and a real clock
    could cross into the next one between two requests of a test."""
    stopped = Clock(1_800_000_000 + 20)
    monkeypatch.setattr("webapp.api.time", SimpleNamespace(time=stopped))
    return stopped


def test_too_many_submissions_are_429_with_retry_after(client, document, settings, clock):
    settings.ASSAY_API_SUBMISSIONS_PER_MINUTE = 2
    statuses = [create(client, text="{}").status_code for _ in range(2)]
    refused = create(client, text="{}")
    assert statuses == [201, 201]
    assert refused.status_code == 429
    check(document, refused, "/api/submissions", "post")
    assert refused["Retry-After"] == "40"
    assert refused.json()["error"]["message"] == (
        "At most 2 submissions a minute, refused ones included; try again in 40 s."
    )


def test_the_next_minute_allows_submissions_again(client, settings, clock):
    settings.ASSAY_API_SUBMISSIONS_PER_MINUTE = 1
    assert create(client, text="{}").status_code == 201
    clock.now += 39
    assert create(client, text="{}").status_code == 429
    clock.now += 1
    assert create(client, text="{}").status_code == 201


def test_refusals_of_any_kind_count_towards_the_limit(client, settings, clock):
    settings.ASSAY_API_SUBMISSIONS_PER_MINUTE = 2
    # A script stuck sending what is refused before its body is read: no type, too big.
    untyped = client.post("/api/submissions", b"x", content_type="")
    too_big = client.post(
        "/api/submissions", {"text": "{}"}, headers={"Content-Length": str(1 << 40)}
    )
    assert [untyped.status_code, too_big.status_code] == [415, 413]
    assert create(client, text="{}").status_code == 429


def post_from(client, forwarded_for: str):
    """A submission that reached Assay through a proxy at 10.0.0.1."""
    return client.post(
        "/api/submissions",
        {"text": "{}"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR=forwarded_for,
    ).status_code


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(client, settings, clock):
    settings.ASSAY_API_SUBMISSIONS_PER_MINUTE = 1
    settings.ASSAY_TRUSTED_PROXIES = 1
    assert [post_from(client, "203.0.113.7"), post_from(client, "203.0.113.8")] == [201, 201]
    # What the client wrote before the proxy's entry is not believed.
    assert post_from(client, "198.51.100.1, 203.0.113.7") == 429


def test_without_trusted_proxies_a_forwarded_header_is_ignored(client, settings, clock):
    settings.ASSAY_API_SUBMISSIONS_PER_MINUTE = 1
    assert post_from(client, "203.0.113.7") == 201
    assert post_from(client, "203.0.113.8") == 429  # the same connection's address


def test_other_methods_are_405_with_allow(client):
    response = client.get("/api/submissions")
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_no_csrf_token_is_needed(client):
    strict = type(client)(enforce_csrf_checks=True)
    assert strict.post("/api/submissions", {"text": "{}"}).status_code == 201


def test_cors_is_off_unless_the_origin_is_allowed(client, settings):
    origin = "https://publisher.example"
    closed = client.post("/api/submissions", {"text": "{}"}, headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in closed
    settings.ASSAY_API_CORS_ORIGINS = [origin]
    preflight = client.options("/api/submissions", headers={"Origin": origin})
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    opened = client.post("/api/submissions", {"text": "{}"}, headers={"Origin": origin})
    assert opened["Access-Control-Allow-Origin"] == origin
    assert opened["Access-Control-Expose-Headers"] == "Location, Retry-After"
    # A 404 under /api/ is readable by the allowed site too.
    lost = client.get("/api/submissions/not-an-id", headers={"Origin": origin})
    assert (lost.status_code, lost["Access-Control-Allow-Origin"]) == (404, origin)


def test_every_api_answer_varies_by_origin_for_caches(client, settings):
    settings.ASSAY_API_CORS_ORIGINS = ["https://publisher.example"]
    for origin in ["https://publisher.example", "https://other.example", None]:
        headers = {"Origin": origin} if origin else {}
        answer = client.get("/api/openapi.json", headers=headers)
        assert "Origin" in answer["Vary"], origin


def test_the_status_follows_a_submission(client, document):
    created = create(client, text=(EXAMPLES / "grants-valid.json").read_text()).json()
    response = client.get(f"/api/submissions/{created['id']}")
    body = check(document, response, "/api/submissions/{id}", "get")
    assert body["state"] == "done"
    assert body["links"] == created["links"]
    missing = client.get(f"/api/submissions/{uuid4()}")
    assert missing.status_code == 404
    check(document, missing, "/api/submissions/{id}", "get")


def test_the_report_once_done(client, document):
    with (EXAMPLES / "grants-invalid.xlsx").open("rb") as handle:
        created = client.post("/api/submissions", {"file": handle}).json()
    response = client.get(created["links"]["report"])
    assert response.status_code == 200
    report = check(document, response, "/api/submissions/{id}/report", "get")
    assert (report["valid"], report["error_count"], report["format"]) == (False, 12, "xlsx")
    assert report["errors"][0]["source"]["sheet"] == "grants"


def test_the_report_says_where_a_field_is_named_twice(client, document):
    created = create(client, text=fixture("field-named-twice.json").read_text()).json()
    response = client.get(created["links"]["report"])
    report = check(document, response, "/api/submissions/{id}/report", "get")
    assert report["stats"]["repeated_fields"]["count"] == 2
    assert report["stats"]["repeated_fields"]["examples"][0] == {
        "path": "/grants/0",
        "field": "amount",
        "times": 2,
    }


def test_the_report_while_processing_is_202_with_the_status(client, document):
    created = create(client, text="{}").json()
    Submission.objects.filter(id=created["id"]).update(
        state="running", heartbeat=timezone.now(), current_task="validate"
    )
    response = client.get(created["links"]["report"])
    assert response.status_code == 202
    assert check(document, response, "/api/submissions/{id}/report", "get")["state"] == "running"


def test_the_report_of_data_that_could_not_be_read_is_422_saying_why(client, document):
    created = create(client, text='{"grants": [1, 2,]}').json()
    response = client.get(created["links"]["report"])
    assert response.status_code == 422
    body = check(document, response, "/api/submissions/{id}/report", "get")
    [failure] = body["error"]["failures"]
    assert (failure["task"], failure["code"]) == ("parse_json", "malformed_json")
    assert "line 1, column 18" in failure["message"]


def test_a_picture_has_no_report_and_the_404_says_why_and_where_to_look(client, document):
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(picture, "PNG")
    upload = SimpleUploadedFile("red.png", picture.getvalue(), content_type="image/png")
    created = client.post("/api/submissions", {"file": upload}).json()
    response = client.get(created["links"]["report"])
    assert response.status_code == 404
    body = check(document, response, "/api/submissions/{id}/report", "get")
    assert body["error"]["code"] == "no_report"
    assert "it is a PNG file, which is previewed" in body["error"]["message"]
    assert body["error"]["results"] == created["links"]["results"]
    # The previews the page shows are the status's to give.
    status = check(document, client.get(created["links"]["self"]), "/api/submissions/{id}", "get")
    [preview] = [task for task in status["tasks"] if task["name"] == "preview"]
    assert [download["name"] for download in preview["downloads"]] == [
        "thumbnail-200.webp",
        "thumbnail-800.webp",
    ]


def test_an_expired_submission_is_410_for_status_and_report(client, document):
    created = create(client, text="{}").json()
    Submission.objects.filter(id=created["id"]).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    status = client.get(created["links"]["self"])
    report = client.get(created["links"]["report"])
    assert (status.status_code, report.status_code) == (410, 410)
    assert check(document, status, "/api/submissions/{id}", "get")["state"] == "expired"
    check(document, report, "/api/submissions/{id}/report", "get")
    unknown = client.get(f"/api/submissions/{uuid4()}/report")
    assert unknown.status_code == 404
    check(document, unknown, "/api/submissions/{id}/report", "get")


@pytest.mark.parametrize("swept", [False, True])
def test_an_expired_submission_waits_on_no_retry(client, document, swept):
    created = create(client, text="{}").json()
    waiting = Submission.objects.filter(id=created["id"])
    # A step failed for a passing reason and a retry was due, when the data expired.
    waiting.update(state=Submission.State.PENDING, retry_at=timezone.now() + timedelta(hours=1))
    waiting.update(expires_at=timezone.now() - timedelta(days=1))
    if swept:
        from webapp.expiry import expire_due

        assert expire_due() == 1
        assert waiting.get().retry_at is None
    status = check(document, client.get(created["links"]["self"]), "/api/submissions/{id}", "get")
    assert (status["state"], status["retry_at"], status["waiting_on"]) == ("expired", None, None)


def test_a_deferred_task_is_started_others_are_404_and_not_now_is_409(client, document):
    created = create(client, text=(EXAMPLES / "grants-valid.json").read_text()).json()
    base = created["links"]["self"]
    started = client.post(f"{base}/tasks/json_to_spreadsheet")
    assert started.status_code == 202
    assert (
        check(document, started, "/api/submissions/{id}/tasks/{task}", "post")["status"] == "ready"
    )
    for name in ["validate", "nope"]:  # a step of the report, and no step at all
        refused = client.post(f"{base}/tasks/{name}")
        assert refused.status_code == 404
        check(document, refused, "/api/submissions/{id}/tasks/{task}", "post")
    failed = create(client, text="{not json").json()["links"]["self"]
    not_now = client.post(f"{failed}/tasks/json_to_spreadsheet")
    assert not_now.status_code == 409
    assert check(document, not_now, "/api/submissions/{id}/tasks/{task}", "post")["error"][
        "message"
    ] == ("This submission could not be checked, so there is nothing to make this from.")
    upload = SimpleUploadedFile("grants.xlsx", (EXAMPLES / "grants-valid.xlsx").read_bytes())
    spreadsheet = client.post("/api/submissions", {"file": upload}).json()["links"]["self"]
    already = client.post(f"{spreadsheet}/tasks/json_to_spreadsheet")
    assert already.status_code == 409
    assert already.json()["error"]["message"] == (
        "The data is a spreadsheet (XLSX) already: spreadsheets are made from JSON data."
    )
    unknown = client.post(f"/api/submissions/{uuid4()}/tasks/json_to_spreadsheet")
    assert unknown.status_code == 404
    check(document, unknown, "/api/submissions/{id}/tasks/{task}", "post")


def test_an_address_under_api_that_means_nothing_is_a_json_404(client, document):
    response = client.get("/api/submissions/not-a-uuid/report")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_a_multipart_body_without_a_boundary_is_400(client, document):
    response = client.generic(
        "POST", "/api/submissions", b"--x\r\n", content_type="multipart/form-data"
    )
    assert response.status_code == 400
    body = check(document, response, "/api/submissions", "post")
    assert body["error"]["code"] == "invalid_body"


@pytest.mark.parametrize(
    "parts",
    [
        {f"f{number}": "x" for number in range(1_500)},  # past Django's limit of fields
        {"file": [SimpleUploadedFile(f"{n}.json", b"{}") for n in range(150)]},  # of files
    ],
    ids=["fields", "files"],
)
def test_a_body_of_too_many_parts_is_a_json_400(client, document, settings, parts):
    settings.ASSAY_API_SUBMISSIONS_PER_MINUTE = 100
    response = client.post("/api/submissions", {"text": "{}", **parts})
    assert response.status_code == 400
    body = check(document, response, "/api/submissions", "post")
    assert body["error"]["code"] == "invalid_body"


def test_two_files_in_one_submission_are_refused_not_one_dropped(client, document):
    files = [SimpleUploadedFile(name, b"{}") for name in ("a.json", "b.json")]
    response = client.post("/api/submissions", {"file": files})
    assert response.status_code == 400
    body = check(document, response, "/api/submissions", "post")
    assert body["error"] == {
        "code": "invalid",
        "message": "Several files were sent as “file”: send one a submission.",
        "field": "file",
    }


def test_a_deferred_task_of_an_expired_submission_is_410(client, document):
    created = create(client, text="{}").json()
    Submission.objects.filter(id=created["id"]).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    response = client.post(f"{created['links']['self']}/tasks/json_to_spreadsheet")
    assert response.status_code == 410
    check(document, response, "/api/submissions/{id}/tasks/{task}", "post")
    assert client.post(f"/s/{created['id']}/tasks/json_to_spreadsheet").status_code == 410


def test_the_report_says_why_no_alternative_matches(client, document, settings, tmp_path):
    from tests.test_report import RECIPIENT
    from tests.test_spreadsheet_tasks import use_profile

    use_profile(settings, tmp_path, {"properties": {"recipient": RECIPIENT}})
    created = create(client, text=json.dumps({"grants": [{"recipient": {"name": "A"}}]})).json()
    response = client.get(created["links"]["report"])
    report = check(document, response, "/api/submissions/{id}/report", "get")
    [error] = report["errors"]
    assert (error["message"], error["detail"]) == (
        "matches none of the allowed alternatives",
        "Closest is alternative 1: “address” is missing",
    )
    assert "detail" in document["components"]["schemas"]["SchemaError"]["properties"]


def created_from(client, data) -> dict:
    return client.post(
        "/api/submissions", json.dumps({"text": json.dumps(data)}), content_type="application/json"
    ).json()


def words_on(page) -> str:
    """A page's text as a reader sees it: no tags, entities read, spaces as one."""
    return " ".join(unescape(strip_tags(page.content.decode())).split())


def test_the_status_says_what_the_spreadsheets_cannot_hold_as_the_page_does(
    client, document, settings, tmp_path
):
    from tests.test_spreadsheet_tasks import GRANT, use_profile

    use_profile(settings, tmp_path, GRANT)
    grants = [{"id": "G-1", "amount/value": 5}, {"id": "G-1"}, {"id": "G-2"}]
    created = created_from(client, {"grants": grants, "meta": {"publisher": "x"}})
    client.post(f"{created['links']['self']}/tasks/json_to_spreadsheet")
    status = check(document, client.get(created["links"]["self"]), "/api/submissions/{id}", "get")
    [spreadsheets] = [task for task in status["tasks"] if task["name"] == "json_to_spreadsheet"]
    notices = {notice["code"]: notice for notice in spreadsheets["notices"]}
    assert set(notices) == {"fields_beside_the_list", "field_names_with_slash", "shared_ids"}
    assert (
        notices["fields_beside_the_list"]["count"],
        notices["fields_beside_the_list"]["examples"],
    ) == (1, ["meta"])
    assert notices["field_names_with_slash"]["examples"] == ["amount/value"]
    assert (notices["shared_ids"]["examples"], notices["shared_ids"]["id_name"]) == (["G-1"], "id")
    assert all(notice["loses_data"] for notice in notices.values())
    assert notices["fields_beside_the_list"]["message"] == (
        "The field beside the list, “meta”, is not in the spreadsheets: they hold one row per "
        "item of “grants”. Keep the JSON file for this field: JSON made from the spreadsheets "
        "would not have it."
    )
    page = words_on(client.get(created["links"]["results"]))
    for notice in notices.values():
        assert notice["message"] in page


def test_the_status_notes_texts_the_workbook_keeps_from_running_as_formulas(
    client, document, settings, tmp_path
):
    from tests.test_spreadsheet_tasks import GRANT, use_profile

    use_profile(settings, tmp_path, GRANT)
    created = created_from(client, {"grants": [{"id": "G-1", "title": "=1+1"}]})
    client.post(f"{created['links']['self']}/tasks/json_to_spreadsheet")
    status = check(document, client.get(created["links"]["self"]), "/api/submissions/{id}", "get")
    [notice] = status["tasks"][-1]["notices"]
    assert (notice["code"], notice["count"], notice["loses_data"]) == (
        "formula_like_texts",
        1,
        False,
    )
    assert notice["message"].endswith("in the CSV files it has a ' put before it.")
    assert notice["message"] in words_on(client.get(created["links"]["results"]))


def test_the_status_links_every_file_the_page_offers(client, document):
    with (EXAMPLES / "grants-invalid.xlsx").open("rb") as handle:
        created = client.post("/api/submissions", {"file": handle}).json()
    status = check(document, client.get(created["links"]["self"]), "/api/submissions/{id}", "get")
    files = {
        (task["name"], download["name"]): download
        for task in status["tasks"]
        for download in task.get("downloads", [])
    }
    assert set(files) == {
        ("spreadsheet_to_json", "data.json"),
        ("report", "report.json"),
        ("report", "errors.csv"),
    }
    page = client.get(created["links"]["results"]).content.decode()
    for download in files.values():
        assert f'href="{urlsplit(download["url"]).path}"' in page
        assert client.get(download["url"])["Content-Type"] == download["content_type"]
    report = json.loads(
        b"".join(client.get(files["report", "report.json"]["url"]).streaming_content)
    )
    assert report["error_count"] == 12
    original = client.get(status["links"]["original"])
    assert b"".join(original.streaming_content) == (EXAMPLES / "grants-invalid.xlsx").read_bytes()


def test_a_failure_says_whether_trying_again_may_help_and_the_api_tries_again(
    client, document, settings
):
    from tests.pipeline_tasks import TEST_PIPELINE

    settings.ASSAY_PIPELINE = TEST_PIPELINE
    created = create(client, text=(EXAMPLES / "grants-valid.json").read_text()).json()
    failing = Submission.objects.filter(id=created["id"])
    # A service the step needs was down, five times in a row: the submission failed.
    failing.update(options={"breaks": "transient"})
    client.get(created["links"]["report"])  # a new option: checked again, and it fails
    failing.update(state=Submission.State.FAILED, retry_at=None)
    report = client.get(created["links"]["report"])
    assert report.status_code == 422
    [failure] = check(document, report, "/api/submissions/{id}/report", "get")["error"]["failures"]
    assert failure == {
        "task": "breaks",
        "title": "A step that breaks",
        "code": "service_down",
        "message": "A service is down.",
        "hint": "",
        "permanent": False,
    }
    failing.update(options={"breaks": "no"})  # the service is back
    retried = client.post(f"{created['links']['self']}/retry")
    assert retried.status_code == 202
    assert check(document, retried, "/api/submissions/{id}/retry", "post")["state"] == "done"
    [breaks] = [task for task in retried.json()["tasks"] if task["name"] == "breaks"]
    assert breaks["status"] == "ok"


def test_a_failure_of_the_data_itself_says_it_is_permanent(client, document):
    created = create(client, text='{"grants": [1, 2,]}').json()
    response = client.get(created["links"]["report"])
    [failure] = check(document, response, "/api/submissions/{id}/report", "get")["error"][
        "failures"
    ]
    assert (failure["title"], failure["permanent"]) == ("Read the JSON", True)


def test_only_a_failed_submission_can_be_tried_again(client, document):
    created = create(client, text="{}").json()
    done = client.post(f"{created['links']['self']}/retry")
    assert done.status_code == 409
    problem = check(document, done, "/api/submissions/{id}/retry", "post")["error"]
    assert (problem["code"], problem["message"]) == (
        "not_failed",
        "This submission was checked: there is nothing to try again.",
    )
    Submission.objects.filter(id=created["id"]).update(
        state=Submission.State.FAILED, expires_at=timezone.now() - timedelta(days=1)
    )
    expired = client.post(f"{created['links']['self']}/retry")
    assert expired.status_code == 410
    check(document, expired, "/api/submissions/{id}/retry", "post")
    unknown = client.post(f"/api/submissions/{uuid4()}/retry")
    assert unknown.status_code == 404
    check(document, unknown, "/api/submissions/{id}/retry", "post")
    assert client.get(f"{created['links']['self']}/retry").status_code == 405


def test_the_report_says_how_many_links_were_left_unchecked(
    client, document, settings, http_server
):
    from tests.test_links import grants_linking, png

    settings.ASSAY_MAX_LINKS = 1
    http_server.serve("/a.png", png(), content_type="image/png")
    http_server.serve("/b.png", png(), content_type="image/png")
    created = created_from(
        client, grants_linking(http_server.url("/a.png"), http_server.url("/b.png"))
    )
    report = check(
        document, client.get(created["links"]["report"]), "/api/submissions/{id}/report", "get"
    )
    # No warnings, but not because every link works: one was never checked.
    assert (report["link_warnings"], report["links_checked"], report["links_unchecked"]) == (
        [],
        1,
        1,
    )
    status = client.get(created["links"]["self"]).json()
    [links] = [task for task in status["tasks"] if task["name"] == "links"]
    assert "downloads" not in links  # its thumbnail is the page's, beside its link


def test_the_report_in_sample_mode_says_what_was_checked(client, document, settings):
    settings.ASSAY_SAMPLE_ITEMS = 1
    text = (EXAMPLES / "grants-valid.json").read_text()
    created = client.post(
        "/api/submissions",
        json.dumps({"text": text, "sample": True}),
        content_type="application/json",
    ).json()
    report = check(
        document, client.get(created["links"]["report"]), "/api/submissions/{id}/report", "get"
    )
    assert report["sample"]["sampled"] is True
    assert report["sample"]["lists"][0]["checked"] == 1 < report["sample"]["lists"][0]["items"]
    assert "sample" in document["components"]["schemas"]["Report"]["properties"]


def test_the_report_says_how_many_kinds_of_error_there_are_past_those_listed(
    client, document, settings, tmp_path
):
    from tests.test_spreadsheet_tasks import use_profile

    fields = [f"f{number}" for number in range(201)]
    use_profile(settings, tmp_path, {"properties": {name: {"type": "string"} for name in fields}})
    created = created_from(client, {"grants": [dict.fromkeys(fields, 1)]})
    response = client.get(created["links"]["report"])
    report = check(document, response, "/api/submissions/{id}/report", "get")
    assert (report["error_count"], report["error_group_count"]) == (201, 201)
    assert len(report["error_groups"]) == 200


def test_a_formula_under_a_heading_that_is_a_number_or_a_date_is_warned_of_as_text(
    client, document, settings, tmp_path
):
    import openpyxl

    from tests.test_spreadsheet_tasks import GRANT, use_profile

    use_profile(settings, tmp_path, GRANT)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "grants"
    # Formulas as a program writes them, with no saved result, under headings that are
    # a year and a date: the warnings name the headings as the sheet shows them.
    sheet.append(["id", "title", 2026, date(2026, 4, 1)])
    sheet.append(["G1", "Orchard", "=1+1", "=2+2"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = SimpleUploadedFile("grants.xlsx", buffer.getvalue())
    created = client.post("/api/submissions", {"file": upload}).json()
    response = client.get(created["links"]["report"])
    assert response.status_code == 200
    report = check(document, response, "/api/submissions/{id}/report", "get")
    assert [(w["column"], w["header"]) for w in report["conversion_warnings"]] == [
        ("C", "2026"),
        ("D", "2026-04-01 00:00:00"),
    ]


def test_the_status_offers_no_file_made_against_a_schema_since_replaced(
    client, document, settings, tmp_path
):
    from tests.test_spreadsheet_tasks import GRANT, use_profile

    use_profile(settings, tmp_path, GRANT)
    created = created_from(client, {"grants": [{"id": "G1"}]})
    stricter = tmp_path / "stricter"
    stricter.mkdir()
    use_profile(settings, stricter, {**GRANT, "required": ["id", "title"]})
    # The status is read, not acted on: the report is made again once it is asked for
    # (or the page looked at). Until then its file says the data is valid, which the
    # schema now says it is not: the status must not offer it as the step's.
    status = check(document, client.get(created["links"]["self"]), "/api/submissions/{id}", "get")
    [report] = [task for task in status["tasks"] if task["name"] == "report"]
    assert "downloads" not in report
    made = check(
        document, client.get(created["links"]["report"]), "/api/submissions/{id}/report", "get"
    )
    assert (made["valid"], made["error_count"]) == (False, 1)
    status = client.get(created["links"]["self"]).json()
    [report] = [task for task in status["tasks"] if task["name"] == "report"]
    assert [download["name"] for download in report["downloads"]] == ["report.json", "errors.csv"]


def test_a_link_kept_to_a_file_made_before_the_schema_changed_leads_to_it_made_again(
    client, document, settings, tmp_path
):
    from tests.test_spreadsheet_tasks import GRANT, use_profile

    use_profile(settings, tmp_path, GRANT)
    created = created_from(client, {"grants": [{"id": "G1"}]})
    status = client.get(created["links"]["self"]).json()
    [report] = [task for task in status["tasks"] if task["name"] == "report"]
    [kept] = [item["url"] for item in report["downloads"] if item["name"] == "report.json"]
    stricter = tmp_path / "stricter"
    stricter.mkdir()
    use_profile(settings, stricter, {**GRANT, "required": ["id", "title"]})
    # The file says the data is valid, which the schema now says it is not. A script is
    # told so, rather than given a page to save as report.json.
    refused = client.get(kept, HTTP_ACCEPT="*/*")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "out_of_date"
    assert refused.json()["error"]["results"] == created["links"]["results"]
    # A browser is led to the results page, which makes it again.
    response = client.get(kept, follow=True, HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert response.redirect_chain[0][0].endswith(f"/s/{created['id']}/#report")
    page = response.content.decode()
    assert "report.json was made before the schema or Assay changed" in unescape(page)
    made = json.loads(b"".join(client.get(kept).streaming_content))
    assert (made["valid"], made["error_count"]) == (False, 1)
