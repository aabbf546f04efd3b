"""How long 100 link checks take with the concurrency limits.

    .venv/bin/python bench/links.py [--links 100] [--delay 0.2] [--hosts 1 10]

Local HTTP servers answer every request after ``--delay`` seconds with a small PNG
(so each check also makes a thumbnail). The links are spread over 1 host, then over
10 (one server per port: a host to the per-host limit), and checked as the links task
does: at most ASSAY_LINK_CONCURRENCY at once and ASSAY_LINK_PER_HOST per host.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (300, 150), "green").save(buffer, "PNG")
    return buffer.getvalue()


def start_server(delay: float, body: bytes) -> ThreadingHTTPServer:
    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webapp.settings",
        ASSAY_DATA_DIR=tempfile.mkdtemp(prefix="assay-bench-links-"),
        ASSAY_ALLOW_PRIVATE_URLS="1",
    )
    import django

    django.setup()
    from django.conf import settings

    from tasks.links import check_all

    body = png()
    print(
        f"{args.links} links, each answered after {args.delay} s; at most "
        f"{settings.ASSAY_LINK_CONCURRENCY} at once, {settings.ASSAY_LINK_PER_HOST} per host"
    )
    print(f"{'hosts':>5} {'seconds':>8} {'ok':>4}  floor (delay x links / parallel)")
    for hosts in args.hosts:
        servers = [start_server(args.delay, body) for _ in range(hosts)]
        urls = [
            f"http://127.0.0.1:{servers[n % hosts].server_address[1]}/doc-{hosts}-{n}.png"
            for n in range(args.links)
        ]
        started = time.perf_counter()
        outcomes = check_all(urls)
        seconds = time.perf_counter() - started
        parallel = min(settings.ASSAY_LINK_CONCURRENCY, settings.ASSAY_LINK_PER_HOST * hosts)
        ok = sum(outcome.ok and outcome.value["ok"] for outcome in outcomes.values())
        print(f"{hosts:>5} {seconds:>8.2f} {ok:>4}  {args.delay * args.links / parallel:.2f}")
        for server in servers:
            server.shutdown()


if __name__ == "__main__":
    main()
