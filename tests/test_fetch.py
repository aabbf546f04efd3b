"""Fetching a submitted URL: what it follows, what it refuses, and what users are told."""

import contextlib
import gzip
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest
from django.utils import timezone

from process import fetching
from process.errors import BadInput, Unavailable
from process.fetching import (
    FetchLimits,
    RefusedAddress,
    fetch,
    is_public,
    make_session,
    without_password,
)
from tests.conftest import fixture, submission_from
from webapp.models import Submission, TaskRun

pytestmark = pytest.mark.django_db(transaction=True)
GRANTS = fixture("grants.json").read_bytes()


def limits(**overrides) -> FetchLimits:
    return FetchLimits(**{"max_bytes": 1_000_000, "allow_private": True, **overrides})


def test_it_downloads_and_hashes(http_server, tmp_path):
    http_server.serve("/g.json", GRANTS)
    fetched = fetch(http_server.url("/g.json"), tmp_path / "data", limits())
    assert (tmp_path / "data").read_bytes() == GRANTS
    assert fetched.file.size == len(GRANTS)
    assert fetched.content_type == "application/json"
    assert fetched.filename == "g.json"


def test_it_follows_a_chain_of_redirects(http_server, tmp_path):
    http_server.serve("/final.json", GRANTS)
    http_server.redirect("/a", "/b")
    http_server.redirect("/b", http_server.url("/final.json"), status=301)
    fetched = fetch(http_server.url("/a"), tmp_path / "data", limits())
    assert fetched.redirects == [
        http_server.url("/b"),
        http_server.url("/final.json"),
    ]
    assert fetched.final_url == http_server.url("/final.json")


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("http://[broken/a.json", "on to an address that cannot be read: Invalid IPv6 URL"),
        ("http://user:pw@localhost:99999/x", "cannot be read: Port out of range"),
    ],
)
def test_a_redirect_to_a_broken_address_is_a_permanent_error(http_server, tmp_path, target, words):
    http_server.redirect("/a", target)
    with pytest.raises(BadInput, match=words):
        fetch(http_server.url("/a"), tmp_path / "data", limits())


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.org/a.json"])
def test_a_redirect_to_another_scheme_says_the_server_sent_it_there(http_server, tmp_path, target):
    http_server.redirect("/a", target)
    with pytest.raises(BadInput) as caught:
        fetch(http_server.url("/a"), tmp_path / "data", limits())
    assert caught.value.message == (
        f"The server at {http_server.url('/a')} sent the request on to {target!r}. "
        f"Only http and https URLs can be fetched, not {target!r}."
    )


def test_not_modified_to_a_request_that_asked_nothing_conditional_is_no_empty_file(
    http_server, tmp_path
):
    def not_modified(request) -> None:
        request.send_response(304)
        request.end_headers()

    http_server.routes["/same"] = not_modified
    with pytest.raises(BadInput, match="answered 304 \\(not modified\\), which sends no file"):
        fetch(http_server.url("/same"), tmp_path / "data", limits(allow_private=True))
    assert not (tmp_path / "data").exists()


def test_it_stops_after_too_many_redirects(http_server, tmp_path):
    for hop in range(4):
        http_server.redirect(f"/{hop}", f"/{hop + 1}")
    with pytest.raises(BadInput, match="redirected more than 2 times") as caught:
        fetch(http_server.url("/0"), tmp_path / "data", limits(max_redirects=2))
    assert caught.value.code == "too_many_redirects"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/x", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/latest"],
)
def test_it_refuses_private_addresses(url, tmp_path):
    with pytest.raises(BadInput, match="private or local address") as caught:
        fetch(url, tmp_path / "data", limits(allow_private=False))
    assert caught.value.code == "url_refused"


def test_it_refuses_a_redirect_to_a_private_address(http_server, tmp_path, monkeypatch):
    # The first hop is allowed as if public; its redirect to a private address is not.
    import process.fetching as fetching

    checked = []
    real_check = fetching.check_url

    def check_first_as_public(url, allow_private):
        checked.append(url)
        return real_check(url, allow_private=len(checked) == 1)

    monkeypatch.setattr(fetching, "check_url", check_first_as_public)
    real_session = fetching.make_session
    monkeypatch.setattr(fetching, "make_session", lambda allow_private: real_session(True))
    http_server.redirect("/go", "http://192.168.0.10/secret")
    with pytest.raises(BadInput, match=r"192\.168\.0\.10"):
        fetch(http_server.url("/go"), tmp_path / "data", limits(allow_private=False))


def test_the_connection_itself_is_refused_when_the_peer_is_private(http_server):
    # Even if DNS answered differently when we checked (rebinding), the socket is checked.
    http_server.serve("/g.json", GRANTS)
    with make_session(allow_private=False) as session, pytest.raises(RefusedAddress):
        session.get(http_server.url("/g.json"), timeout=5)
    assert http_server.hits == []


def test_is_public():
    assert is_public("93.184.216.34")
    assert not is_public("::ffff:127.0.0.1")
    assert not is_public("fe80::1")
    assert not is_public("0.0.0.0")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "Only http and https"),
        ("gopher://example.org/", "Only http and https"),
        ("http:///nohost", "has no host name"),
        ("http://example.org:99999/a.json", "Port out of range"),
        ("http://example.org:0/a.json", "port 0"),
        ("http://[::1/a.json", "Invalid IPv6 URL"),
        ("https://alice:hunter2#x@example.org/a.json", "cannot be read: its port is not a number"),
    ],
)
def test_it_refuses_other_schemes_and_urls_with_no_host_or_port(url, words, tmp_path):
    with pytest.raises(BadInput, match=words):
        fetch(url, tmp_path / "data", limits())


def test_an_unknown_host_is_a_permanent_error(tmp_path):
    with pytest.raises(BadInput, match="could not be found"):
        fetch("http://no-such-host.invalid/a.json", tmp_path / "data", limits(allow_private=False))


def test_a_body_whose_compression_is_broken_is_a_permanent_error(http_server, tmp_path):
    packed = gzip.compress(GRANTS)
    broken = packed[:12] + bytes(byte ^ 0xFF for byte in packed[12:60]) + packed[60:]

    def send(request):
        request.send_response(200)
        request.send_header("Content-Encoding", "gzip")
        request.send_header("Content-Length", str(len(broken)))
        request.end_headers()
        request.wfile.write(broken)

    http_server.routes["/broken.json"] = send
    with pytest.raises(BadInput, match=r"compressed \(gzip\), but the compressed data is broken"):
        fetch(http_server.url("/broken.json"), tmp_path / "data", limits())
    assert not (tmp_path / "data").exists()


def test_a_declared_size_over_the_limit_is_refused_before_downloading(http_server, tmp_path):
    http_server.serve("/big.json", b"[" + b"1," * 500 + b"1]")
    with pytest.raises(BadInput, match="larger than the limit of 100 bytes"):
        fetch(http_server.url("/big.json"), tmp_path / "data", limits(max_bytes=100))
    assert not (tmp_path / "data").exists()


def test_an_undeclared_size_over_the_limit_is_cut_off(http_server, tmp_path):
    def endless(request):
        request.send_response(200)
        request.end_headers()  # no Content-Length: the body runs until the server stops
        for _ in range(100):
            request.wfile.write(b"x" * 10_000)

    http_server.routes["/stream"] = endless
    with pytest.raises(BadInput, match="larger than the limit"):
        fetch(http_server.url("/stream"), tmp_path / "data", limits(max_bytes=50_000))
    assert list(tmp_path.iterdir()) == []


def test_a_slow_server_times_out(http_server, tmp_path):
    answer = threading.Event()  # set once the test is done, so the server thread ends

    def slow(request):
        answer.wait(timeout=30)
        request.send_response(200)
        request.end_headers()

    http_server.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(Unavailable, match="did not answer in time"):
        fetch(http_server.url("/slow"), tmp_path / "data", limits(total_timeout=1))
    # Stopped at the limit, not at the server's answer; with room for a busy machine.
    assert time.monotonic() - started < 10
    answer.set()


def test_a_server_that_sends_a_byte_at_a_time_is_stopped_at_the_time_limit(http_server, tmp_path):
    # Each byte arrives well within the read timeout: only the total time can stop it.
    def drip(request):
        request.send_response(200)
        request.send_header("Content-Length", "1000")
        request.end_headers()
        for _ in range(1000):
            request.wfile.write(b"x")
            request.wfile.flush()
            time.sleep(0.1)

    http_server.routes["/drip"] = drip
    started = time.monotonic()
    with pytest.raises(Unavailable, match="took too long"):
        fetch(http_server.url("/drip"), tmp_path / "data", limits(total_timeout=1))
    assert time.monotonic() - started < 10  # the drip lasts 100 s
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("private", [True, False])
def test_a_server_that_drips_its_headers_is_stopped_at_the_time_limit(
    http_server, tmp_path, monkeypatch, private
):
    # Each byte of a header arrives well within the read timeout: before the body, where
    # the total time used to be looked at, only a clock outside the reading can stop it.
    def drip(request):
        request.wfile.write(b"HTTP/1.1 200 OK\r\nX-Long: ")
        for _ in range(300):
            request.wfile.write(b"x")
            request.wfile.flush()
            time.sleep(0.1)

    if not private:  # the guarded connections: the local server passes for a public one
        monkeypatch.setattr("process.fetching.is_public", lambda address: True)
    http_server.routes["/drip"] = drip
    started = time.monotonic()
    with pytest.raises(Unavailable, match="did not answer in time"):
        fetch(
            http_server.url("/drip"),
            tmp_path / "data",
            limits(total_timeout=1, allow_private=private),
        )
    assert time.monotonic() - started < 10  # the drip lasts 30 s
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("answer", "error", "said"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", BadInput, "its first line is not an HTTP status line"),
        (
            b"HTTP/1.1 302 Found\r\nLocation: /" + b"a" * 70_000 + b"\r\n\r\n",
            BadInput,
            "a header line longer than 65,536 bytes",
        ),
        (
            b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n",
            BadInput,
            "more than 100 header lines",
        ),
        (b"", Unavailable, "closed the connection without answering"),  # may answer later
    ],
)
def test_an_answer_that_is_not_http_is_said_for_what_it_is(
    http_server, tmp_path, answer, error, said
):
    http_server.routes["/odd"] = lambda request: request.wfile.write(answer)
    with pytest.raises(error, match=said):
        fetch(http_server.url("/odd"), tmp_path / "data", limits(allow_private=True))


def encoded(body: bytes, encoding: str):
    def handler(request):
        request.send_response(200)
        request.send_header("Content-Encoding", encoding)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handler


def test_a_body_compressed_in_a_way_not_unpacked_here_is_said_so(http_server, tmp_path):
    http_server.routes["/z"] = encoded(b"(zstd frames)", "zstd")
    with pytest.raises(BadInput, match="compressed as zstd, which Assay cannot unpack"):
        fetch(http_server.url("/z"), tmp_path / "data", limits(allow_private=True))


@pytest.mark.parametrize("encoding", ["none", "UTF-8", "aws-chunked", "Identity"])
def test_a_content_encoding_that_names_no_compression_is_read_as_it_is(
    http_server, tmp_path, encoding
):
    http_server.routes["/plain"] = encoded(b'{"a": 1}', encoding)
    fetch(http_server.url("/plain"), tmp_path / "data", limits(allow_private=True))
    assert (tmp_path / "data").read_bytes() == b'{"a": 1}'


def self_signed(folder) -> tuple[ssl.SSLContext, str]:
    """A TLS server's context with a certificate for 127.0.0.1 that no one signed, and
    the certificate's file, for a client that is to trust it."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, str(cert)


def test_https_to_a_server_speaking_plain_http_is_said_once_not_retried(http_server, tmp_path):
    http_server.serve("/g.json", GRANTS)
    url = http_server.url("/g.json").replace("http://", "https://")
    with pytest.raises(BadInput) as refused:
        fetch(url, tmp_path / "data", limits())
    assert refused.value.code == "fetch_not_https"
    assert "does not speak HTTPS at that address" in refused.value.message
    assert "give its http:// address" in refused.value.hint


def test_a_certificate_no_one_signed_is_said_once_not_retried(tmp_path):
    context, _ = self_signed(tmp_path)
    listener = socket.create_server(("127.0.0.1", 0))

    def greet() -> None:
        connection, _ = listener.accept()
        with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True):
            pass  # the client refuses the certificate during the handshake

    threading.Thread(target=greet, daemon=True).start()
    try:
        with pytest.raises(BadInput) as refused:
            fetch(f"https://127.0.0.1:{listener.getsockname()[1]}/g", tmp_path / "d", limits())
    finally:
        listener.close()
    assert refused.value.code == "fetch_certificate"
    assert "a certificate that cannot be trusted (self-signed certificate)" in refused.value.message


def test_a_server_that_drips_its_headers_over_https_is_stopped_at_the_time_limit(
    tmp_path, monkeypatch
):
    # TLS takes the connection's socket over: the time limit must still reach it.
    context, cert = self_signed(tmp_path)
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.recv(65536)  # the request
            tls.sendall(b"HTTP/1.1 200 OK\r\nX-Long: ")
            for _ in range(100):  # 10 s, unless the test ends first
                if done.wait(0.1):
                    return
                with contextlib.suppress(OSError):
                    tls.sendall(b"x")

    threading.Thread(target=drip, daemon=True).start()
    trusting = fetching.make_session

    def session(allow_private: bool):
        made = trusting(allow_private)
        made.verify = cert
        return made

    monkeypatch.setattr(fetching, "make_session", session)
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/drip"
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable, match="did not answer in time"):
            fetch(url, tmp_path / "data", limits(total_timeout=1))
        assert time.monotonic() - started < 5  # the drip lasts 10 s
    finally:
        done.set()
        listener.close()


@pytest.mark.parametrize(
    ("status", "error"), [(404, BadInput), (410, BadInput), (503, Unavailable), (429, Unavailable)]
)
def test_http_errors_are_permanent_or_transient_by_status(http_server, tmp_path, status, error):
    http_server.serve("/x", b"nope", status=status)
    with pytest.raises(error, match=f"answered {status}"):
        fetch(http_server.url("/x"), tmp_path / "data", limits())


@pytest.mark.parametrize("status", [401, 403])
def test_a_login_asked_for_or_refused_says_how_to_give_one(http_server, tmp_path, status):
    http_server.serve("/x", b"nope", status=status)
    with pytest.raises(BadInput, match=f"answered {status}") as caught:
        fetch(http_server.url("/x"), tmp_path / "data", limits())
    assert "https://user:password@" in caught.value.hint


def test_a_long_name_in_the_url_is_cut_but_keeps_its_extension(http_server, tmp_path):
    name = "grants-" + "x" * 300 + ".json"
    http_server.serve(f"/{name}", b"[]")
    fetched = fetch(http_server.url(f"/{name}"), tmp_path / "data", limits())
    assert len(fetched.filename) == 200 and fetched.filename.endswith("xxx.json")


def test_a_redirect_that_does_not_say_where_is_refused(http_server, tmp_path):
    def nowhere(request):
        request.send_response(302)
        request.send_header("Content-Length", "0")
        request.end_headers()

    http_server.routes["/moved"] = nowhere
    with pytest.raises(BadInput, match="answered 302 \\(moved\\) without saying where to"):
        fetch(http_server.url("/moved"), tmp_path / "data", limits())
    assert list(tmp_path.iterdir()) == []

    def choices(request):  # 300 Multiple Choices names one, but is not a redirect to follow
        request.send_response(300)
        request.send_header("Location", "/a.json")
        request.send_header("Content-Length", "0")
        request.end_headers()

    http_server.routes["/choices"] = choices
    with pytest.raises(BadInput, match=r"answered 300, sending the request to http://.*/a\.json "):
        fetch(http_server.url("/choices"), tmp_path / "data", limits())


def test_a_404_url_ends_in_the_error_page_without_retries(client, http_server):
    response = client.post("/", {"url": http_server.url("/missing.json")})
    submission = submission_from(response)
    page = client.get(response["Location"]).content.decode()
    assert "The step “Download the URL” failed" in page
    assert "The server answered 404" in page
    assert "Check another address" in page and "Check another file" not in page
    submission.refresh_from_db()
    assert submission.state == Submission.State.FAILED
    assert TaskRun.objects.filter(submission=submission).count() == 1
    Submission.objects.filter(id=submission.id).update(expires_at=timezone.now())
    assert "Give the address again" in client.get(response["Location"]).content.decode()


def test_a_password_in_the_url_is_used_but_never_shown(client, http_server):
    http_server.serve("/g.json", GRANTS)
    url = http_server.url("/g.json").replace("http://", "http://reader:s3cret@")
    response = client.post("/", {"url": url})
    page = client.get(response["Location"]).content.decode()
    assert "<h1>Results</h1>" in page
    assert "s3cret" not in page
    assert "http://reader:•••@127.0.0.1:" in page


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@ss@example.org:8080/a@b?x=1", "https://u:•••@example.org:8080/a@b?x=1"),
        ("https://example.org/a:b@c", "https://example.org/a:b@c"),  # in the path: no password
        ("https://us?r:se#cret@example.org/a", "https://us?r:•••@example.org/a"),
        ("https://u:p?x@example.org:8080/", "https://u:•••@example.org:8080/"),
        ("https://example.org:8080/a@b", "https://example.org:8080/a@b"),
        ("https://user@example.org/", "https://user@example.org/"),
        ("http://127.0.0.1:9/", "http://127.0.0.1:9/"),
    ],
)
def test_without_password_leaves_out_only_the_password(url, shown):
    assert without_password(url) == shown


def test_a_message_about_a_url_leaves_its_password_out(tmp_path):
    with pytest.raises(Unavailable) as caught:
        fetch("http://reader:s3cret@127.0.0.1:9/g.json", tmp_path / "data", limits())
    assert caught.value.message == "Could not connect to http://reader:•••@127.0.0.1:9/g.json."


def test_a_503_url_is_retried_and_then_succeeds(client, http_server):
    http_server.serve("/g.json", b"busy", status=503)
    response = client.post("/", {"url": http_server.url("/g.json")})
    submission = submission_from(response)
    page = " ".join(client.get(response["Location"]).content.decode().split())
    assert "Assay will try again automatically" in page
    # What waits, and why, where it is: not "Step 12 of 12", with nothing after it done.
    assert "The step “Download the URL” failed: The server answered 503" in page
    status = client.get(f"/api/submissions/{submission.id}").json()
    assert status["waiting_on"]["title"] == "Download the URL"
    assert (status["progress"]["done"], status["progress"]["current"]) == (0, "Download the URL")
    http_server.serve("/g.json", GRANTS)
    Submission.objects.filter(id=submission.id).update(retry_at=None)
    page = client.get(response["Location"]).content.decode()
    assert "<h1>Results</h1>" in page
    submission.refresh_from_db()
    assert submission.sha256 and submission.original_path.read_bytes() == GRANTS


def test_a_failed_refetch_keeps_the_earlier_original(http_server, tmp_path):
    target = tmp_path / "data"
    http_server.serve("/g.json", GRANTS)
    fetch(http_server.url("/g.json"), target, limits())
    http_server.serve("/g.json", b"x" * 5000)
    with pytest.raises(BadInput):
        fetch(http_server.url("/g.json"), target, limits(max_bytes=1000))
    assert target.read_bytes() == GRANTS


@pytest.mark.parametrize(
    "address", ["100.100.100.200", "100.64.0.1", "2002:7f00:1::", "::ffff:10.0.0.1", "192.0.2.1"]
)
def test_shared_documentation_and_wrapped_private_addresses_are_not_public(address):
    from process.fetching import is_public

    assert not is_public(address)


def test_ordinary_public_addresses_are_public():
    from process.fetching import is_public

    assert is_public("93.184.215.14") and is_public("2606:4700:4700::1111")


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("a" * 64 + ".example.org", "has an empty part, or a part longer than 63 characters"),
        ("data..example.org", "has an empty part, or a part longer than 63 characters"),
        ("a\ufffdb.example.org", "is not a valid international name (Invalid character"),
    ],
)
@pytest.mark.parametrize("private", [True, False])
def test_a_host_name_dns_cannot_carry_is_said_so(tmp_path, host, said, private):
    # Python's lookup refuses such names before asking DNS, with an error of its own.
    with pytest.raises(BadInput, match=re.escape(f"its host name {said}")) as caught:
        fetch(f"http://{host}/a.json", tmp_path / "data", limits(allow_private=private))
    assert caught.value.code == "url_invalid"


def test_a_redirect_to_a_host_name_dns_cannot_carry_is_said_so(http_server, tmp_path):
    http_server.redirect("/a", "http://" + "a" * 64 + ".example.org/a.json")
    with pytest.raises(BadInput, match="its host name has an empty part, or a part longer"):
        fetch(http_server.url("/a"), tmp_path / "data", limits())
