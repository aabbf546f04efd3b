"""Fetching a URL that a user gave us, without letting it reach what it should not.

Rules (DESIGN.md "Safety rules"): http and https only; no loopback, private,
link-local, multicast or reserved addresses, checked after DNS resolution, on every
redirect, and again on the socket actually connected (so DNS rebinding cannot slip
through); connect and total time limits; a size cap; at most N redirects.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from process.errors import BadInput, TaskError, Unavailable
from process.files import WrittenFile, write_atomically

CHUNK = 64 * 1024
USER_AGENT = "Assay data checker"


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    connect_timeout: float = 10
    total_timeout: float = 60
    max_redirects: int = 5
    allow_private: bool = False


@dataclass(frozen=True)
class Fetched:
    url: str
    final_url: str
    status: int
    content_type: str
    filename: str
    file: WrittenFile
    redirects: list[str] = field(default_factory=list)
    # For asking again later whether it changed (If-None-Match / If-Modified-Since).
    etag: str = ""
    last_modified: str = ""


class RefusedAddress(Exception):
    """Raised from inside the connection when the peer is not a public address.

    Deliberately not an OSError, so urllib3 and requests let it through unwrapped.
    """


def is_public(address: str) -> bool:
    """Globally routable, and not an IPv4 address wrapped in IPv6 that is not.

    is_global also leaves out shared address space (100.64.0.0/10, where some clouds
    keep their metadata services), documentation and benchmarking ranges."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


# The sockets that the fetch under way in this thread has opened (see _cut_off_at).
_this_fetch = threading.local()


class _WatchedConnectionMixin:
    """Connections whose sockets the fetch that opened them can shut at its deadline; the
    guarded ones refuse private and local addresses."""

    guarded = False

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        address = sock.getpeername()[0]
        if self.guarded and not is_public(address):
            sock.close()
            raise RefusedAddress(address)
        sockets = getattr(_this_fetch, "sockets", None)
        if sockets is not None:
            # A copy: TLS takes the socket over, leaving this one closed; a shutdown of
            # the copy ends the connection all the same.
            sockets.append(sock.dup())
        return sock


class _WatchedHTTPConnection(_WatchedConnectionMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnection(_WatchedHTTPConnection):
    guarded = True


class _GuardedHTTPSConnection(_WatchedHTTPSConnection):
    guarded = True


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _Adapter(HTTPAdapter):
    def __init__(self, guarded: bool) -> None:
        self.pools = (
            {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
            if guarded
            else {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
        )
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self.pools


def make_session(allow_private: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc from the worker's environment
    session.headers["User-Agent"] = USER_AGENT
    session.mount("http://", _Adapter(guarded=not allow_private))
    session.mount("https://", _Adapter(guarded=not allow_private))
    return session


@contextmanager
def _cut_off_at(deadline: float) -> Iterator[None]:
    """Shut the sockets of this fetch at ``deadline``. A read timeout starts again with
    every byte: a server that sends its headers a byte a second, each in time, held a
    worker for as long as it liked."""
    sockets: list[socket.socket] = []
    _this_fetch.sockets = sockets
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, [sockets])
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _this_fetch.sockets = None
        for sock in sockets:
            sock.close()


def _shut(sockets: list[socket.socket]) -> None:
    for sock in list(sockets):
        with contextlib.suppress(OSError):  # closed already
            sock.shutdown(socket.SHUT_RDWR)


def without_password(url: str) -> str:
    """``url`` as a page or a message shows it: a password in it is left out, as a results
    page is read by whoever has its address."""
    return PASSWORD_IN_URL.sub(r"\1:•••@", url)


def queries_left_out(text: str) -> str:
    """``text`` with the query and fragment of every web address in it left out, for the
    log: they often hold a token, and a log is kept longer, and read by more, than a
    submission."""
    return QUERY_IN_URL.sub(lambda found: f"{found[1]}{found[2][0]}•••", text)


# A query or a fragment: some sites put tokens in either.
QUERY_IN_URL = re.compile(r"(\bhttps?://[^\s?#]*)([?#]\S*)", re.IGNORECASE)


# "scheme://user:password@host": the password runs to the last "@" before the path. A
# "?" or "#" in it ends the address for some readers and not for others: it is left out
# whatever the reading (and a query such as "?a=b:c@d" before any "/" loses a part).
PASSWORD_IN_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/:@]*):[^/]*@")


def unreadable_url(url: str) -> str | None:
    """Why ``url`` cannot be taken apart into a host and a port, if it cannot."""
    try:
        parts = urlsplit(url)
        port = parts.port  # read only on asking, and then refused when out of range
    except ValueError as exc:  # "Port out of range 0-65535", "Invalid IPv6 URL"...
        # Not "could not be cast to integer value as 'hunter2'": it may quote a password.
        said = "its port is not a number" if "cast to integer" in str(exc) else str(exc)
        return f"The URL {without_password(url)!r} cannot be read: {said}."
    if not parts.hostname:
        return f"The URL {without_password(url)!r} has no host name."
    if said := _not_for_dns(parts.hostname):
        return f"The URL {without_password(url)!r} cannot be read: its host name {said}."
    if port == 0:
        return f"The URL {without_password(url)!r} names port 0, which no server listens on."
    return None


def _not_for_dns(host: str) -> str | None:
    """Why ``host`` cannot be looked up, if Python refuses it before asking DNS (as it
    does, with a UnicodeError of its own, when turning a name into DNS's form)."""
    try:
        host.encode("idna")
    except UnicodeError as exc:
        said = str(exc.__cause__ or exc)
        if "label empty or too long" in said:
            return "has an empty part, or a part longer than 63 characters"
        return f"is not a valid international name ({said})"
    return None


def check_url(url: str, allow_private: bool) -> None:
    """Refuse URLs we must not fetch, with a message that says why."""
    if not url.lower().startswith(("http://", "https://")):
        raise BadInput(
            "url_scheme", f"Only http and https URLs can be fetched, not {without_password(url)!r}."
        )
    if problem := unreadable_url(url):
        raise BadInput("url_invalid", problem, hint="Check the URL for typing mistakes.")
    parts = urlsplit(url)
    if allow_private:
        return
    for address in _resolve(parts.hostname, parts.port or 443):
        if not is_public(address):
            raise BadInput(
                "url_refused",
                f"{parts.hostname} points to a private or local address ({address}), "
                "which Assay does not fetch.",
                hint="Give a URL on the public internet, or upload the file instead.",
            )


def _resolve(host: str, port: int) -> set[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise Unavailable("dns_failed", f"Looking up {host} failed for now.") from exc
        raise BadInput(
            "dns_failed",
            f"The host name {host} could not be found.",
            hint="Check the URL for typing mistakes.",
        ) from exc
    return {info[4][0] for info in infos}


def fetch(
    url: str, dest: Path, limits: FetchLimits, headers: dict[str, str] | None = None
) -> Fetched:
    """Download ``url`` into ``dest``, following at most ``max_redirects`` redirects.

    ``headers`` go with every request (conditional ones, say: a 304 saves nothing)."""
    deadline = time.monotonic() + limits.total_timeout
    session = make_session(limits.allow_private)
    session.headers.update(headers or {})
    current, redirects = url, []
    with session, _cut_off_at(deadline):
        for _ in range(limits.max_redirects + 1):
            _check_hop(url, current, redirects, limits.allow_private)
            response = _get(session, current, limits, deadline)
            with response:
                if not response.is_redirect:
                    return _save(url, current, response, dest, limits, deadline, redirects)
                current = urljoin(current, response.headers["location"])
                redirects.append(current)
    raise BadInput(
        "too_many_redirects",
        f"The URL redirected more than {limits.max_redirects} times.",
        hint="Give the final address of the file.",
    )


def _check_hop(url: str, current: str, redirects: list[str], allow_private: bool) -> None:
    """check_url, saying so when it was the server that sent the request on to ``current``
    (to file:///etc/passwd, say): the URL given was fine."""
    try:
        check_url(current, allow_private)
    except BadInput as refused:
        if not redirects:
            raise
        raise BadInput(
            refused.code,
            f"The server at {without_password(url)} sent the request on to "
            f"{without_password(current)!r}. {refused.message}",
            hint="Give the final address of the file, if it has one Assay can fetch.",
        ) from None


def _get(session: requests.Session, url: str, limits: FetchLimits, deadline: float):
    read_timeout = max(0.1, deadline - time.monotonic())
    try:
        response = session.get(
            url,
            stream=True,
            allow_redirects=False,
            timeout=(limits.connect_timeout, read_timeout),
        )
        if time.monotonic() >= deadline:  # cut off in its headers, which then look ended
            response.close()
            raise requests.Timeout()
        return response
    except RefusedAddress as exc:
        raise BadInput(
            "url_refused",
            f"The URL's server is at a private or local address ({exc}), "
            "which Assay does not fetch.",
        ) from exc
    except requests.RequestException as exc:
        if isinstance(exc, requests.Timeout) or time.monotonic() >= deadline:  # or cut off
            raise Unavailable(
                "fetch_timeout", f"The server at {without_password(url)} did not answer in time."
            ) from exc
        if isinstance(exc, requests.exceptions.SSLError):
            raise _not_secure(url, _ssl_cause(exc)) from exc
        if (answer := _unreadable_answer(exc)) is not None:
            raise BadInput(
                "fetch_not_http",
                f"The server at {without_password(url)} answered, but not in HTTP that can "
                f"be read ({answer}).",
                hint="Tell whoever runs the server, or give the file's own address.",
            ) from exc
        if _closed_without_answering(exc):
            raise Unavailable(
                "fetch_failed",
                f"The server at {without_password(url)} closed the connection without answering.",
            ) from exc
        raise Unavailable("fetch_failed", f"Could not connect to {without_password(url)}.") from exc
    except ValueError as exc:  # requests reads a redirect's address at once: "[broken"
        raise BadInput(
            "url_invalid",
            f"The server at {without_password(url)} sent the request on to an address that "
            f"cannot be read: {exc}.",
            hint="Tell whoever runs the server, or give the file's own address.",
        ) from exc


def _unreadable_answer(exc: BaseException) -> str | None:
    """What was wrong with an answer that is no HTTP, if that is what failed (not a
    server that closed the connection without one: that may answer next time)."""
    for cause in _causes(exc):
        if isinstance(cause, http.client.LineTooLong):
            return "a header line longer than 65,536 bytes"
        if type(cause) is http.client.HTTPException and "more than 100 headers" in str(cause):
            return "more than 100 header lines"  # the most http.client reads
        if isinstance(cause, http.client.BadStatusLine) and not isinstance(
            cause, http.client.RemoteDisconnected
        ):
            return "its first line is not an HTTP status line"
    return None


def _closed_without_answering(exc: BaseException) -> bool:
    return any(isinstance(cause, http.client.RemoteDisconnected) for cause in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: requests and urllib3 hold the cause in their arguments."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [current.__cause__, current.__context__]


def _not_secure(url: str, cause: ssl.SSLError | None) -> TaskError:
    """A secure connection that failed: for good where the server speaks no HTTPS there or
    its certificate is refused (asking again in minutes meets the same), else for now."""
    host = urlsplit(url).hostname or url
    if isinstance(cause, ssl.SSLCertVerificationError):
        return BadInput(
            "fetch_certificate",
            f"The server {host} showed a certificate that cannot be trusted "
            f"({cause.verify_message or cause.reason}), so nothing was downloaded.",
            hint="Whoever runs the server must mend its certificate; meanwhile, download the "
            "file yourself and upload it.",
        )
    if cause is not None and cause.reason in PLAIN_HTTP_REPLIES:
        return BadInput(
            "fetch_not_https",
            f"The server {host} does not speak HTTPS at that address (it may speak plain "
            "HTTP there).",
            hint="Check the address: if the server has no HTTPS, give its http:// address.",
        )
    said = f" ({cause.reason or cause})" if cause is not None else ""
    return Unavailable("fetch_failed", f"The secure connection to {host} failed{said}.")


# What OpenSSL says when the other side answers a TLS greeting with something else: plain
# HTTP's "HTTP/1.1 400...", read as a TLS record.
PLAIN_HTTP_REPLIES = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL"}


def _ssl_cause(error: BaseException) -> ssl.SSLError | None:
    """The ssl module's own error, somewhere inside requests' and urllib3's wrappings."""
    pending, seen = [error], set()
    while pending:
        found = pending.pop()
        if id(found) in seen:
            continue
        seen.add(id(found))
        if isinstance(found, ssl.SSLError):
            return found
        inner = [*getattr(found, "args", ()), getattr(found, "reason", None)]
        inner += [found.__cause__, found.__context__]
        pending += [each for each in inner if isinstance(each, BaseException)]
    return None


def _save(url, final_url, response, dest, limits, deadline, redirects) -> Fetched:
    _check_status(response)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(limits.max_bytes)
    written = write_atomically(dest, _limited(response, limits.max_bytes, deadline))
    return Fetched(
        url=url,
        final_url=final_url,
        status=response.status_code,
        content_type=response.headers.get("content-type", ""),
        filename=_filename(final_url),
        file=written,
        redirects=redirects,
        etag=response.headers.get("etag", ""),
        last_modified=response.headers.get("last-modified", ""),
    )


# The headers that may make a server answer 304: the file is then the one held already.
CONDITIONAL = ("If-None-Match", "If-Modified-Since")


def _check_status(response: requests.Response) -> None:
    code = response.status_code
    if 300 <= code < 400 and code != 304:  # a redirect requests does not follow
        where = response.headers.get("location")
        raise BadInput(
            "http_status",
            f"The server answered {code}, sending the request to "
            f"{without_password(urljoin(response.url, where))} instead."
            if where
            else f"The server answered {code} (moved) without saying where to.",
            hint="Give the address the file has now.",
        )
    if code == 304 and not any(name in response.request.headers for name in CONDITIONAL):
        raise BadInput(
            "http_status",
            "The server answered 304 (not modified), which sends no file, though nothing "
            "was asked of it but the file.",
            hint="Tell whoever runs the server, or give the file's own address.",
        )
    if code < 400:
        return
    message = f"The server answered {code} {response.reason or ''}".strip() + "."
    if code >= 500 or code in {408, 429}:
        raise Unavailable("http_status", message)
    if code in {401, 403}:
        raise BadInput(
            "http_status",
            message,
            hint="The server wants a login, or refuses this one: give an address anyone may "
            "read, put the user name and password in the URL (https://user:password@...), "
            "or download the file yourself and upload it.",
        )
    raise BadInput("http_status", message, hint="Check that the URL is right and public.")


def _limited(response: requests.Response, max_bytes: int, deadline: float) -> Iterator[bytes]:
    received = 0
    try:
        for chunk in _as_it_arrives(response):
            received += len(chunk)
            if received > max_bytes:
                raise _too_large(max_bytes)
            if time.monotonic() > deadline:
                raise _too_long()
            yield chunk
        if time.monotonic() > deadline:  # cut off (see _cut_off_at), so the body looks ended
            raise _too_long()
    except requests.RequestException as exc:
        if time.monotonic() >= deadline:  # cut off (see _cut_off_at)
            raise _too_long() from exc
        raise Unavailable("fetch_failed", "The download was interrupted.") from exc


def _too_long() -> Unavailable:
    return Unavailable("fetch_timeout", "The download took too long and was stopped.")


def _as_it_arrives(response: requests.Response) -> Iterator[bytes]:
    """The body in pieces of whatever has arrived, at most CHUNK bytes each, decoded.

    Not iter_content(CHUNK): that waits until a whole CHUNK has come, and a server that
    sends a byte a second, each well inside the read timeout, held it for 18 hours
    before the total time limit was looked at."""
    raw = response.raw
    _check_encoding(response)
    try:
        while chunk := raw.read1(CHUNK, decode_content=True):
            yield chunk
    except urllib3.exceptions.DecodeError as exc:  # sent broken: asking again sends the same
        encoding = response.headers.get("content-encoding", "")[:40]
        raise BadInput(
            "fetch_undecodable",
            f"The server sent the file compressed ({encoding}), but the compressed data is "
            "broken and cannot be unpacked.",
            hint="Tell whoever runs the server, or download the file yourself and upload it.",
        ) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise requests.ConnectionError(exc) from exc


# Compressions a server may use, and those urllib3 unpacks here (which requests asks for).
# Other words in the header (none, utf-8, aws-chunked: servers send such) are no
# compression, and the body is read as it is.
COMPRESSIONS = {"gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress"}
UNPACKED = {"gzip", "x-gzip", "deflate"} | set(urllib3.util.request.ACCEPT_ENCODING.split(","))


def _check_encoding(response: requests.Response) -> None:
    """A body compressed in a way not unpacked here (zstd, unasked) would be kept packed,
    and then not be recognised as any format: said for what it is."""
    encodings = response.headers.get("content-encoding", "").lower().replace(" ", "")
    unknown = [name for name in encodings.split(",") if name in COMPRESSIONS - UNPACKED]
    if unknown:
        raise BadInput(
            "fetch_undecodable",
            f"The server sent the file compressed as {unknown[0][:40]}, which Assay cannot unpack.",
            hint="Tell whoever runs the server, or download the file yourself and upload it.",
        )


def _too_large(max_bytes: int) -> BadInput:
    return BadInput(
        "too_large",
        f"The file is larger than the limit of {max_bytes:,} bytes.",
        hint="Check a smaller file, or ask the operators to raise ASSAY_MAX_DOWNLOAD_BYTES.",
    )


def _filename(url: str, limit: int = 200) -> str:
    """The last part of the URL's path, cut to ``limit`` but keeping its extension."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    stem, dot, extension = name.rpartition(".")
    if len(name) > limit and dot and len(extension) <= 16:
        return f"{stem[: limit - len(extension) - 1]}.{extension}"
    return name[:limit] or "download"
