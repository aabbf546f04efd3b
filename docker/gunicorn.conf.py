"""gunicorn settings for Assay's web process: gunicorn -c docker/gunicorn.conf.py webapp.wsgi

Read from the environment so one image fits any host; see docker/.env.example.
"""

import os


def _env(name: str, default: str) -> str:
    # An empty value (NAME= left in .env) means the default, as unset does.
    return os.environ.get(name) or default


def _cpus() -> int:
    # The CPUs this process may run on (a container's cpuset), not every CPU of the host.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


bind = f"0.0.0.0:{_env('PORT', '8000')}"

# The web process only takes uploads and renders pages from stored results; the heavy
# work runs in the qcluster workers. Memory, not CPU, is what many workers cost, so the
# usual 2 x CPUs + 1 stops at 8 on a large host unless set explicitly.
workers = int(_env("ASSAY_WEB_WORKERS", str(min(2 * _cpus() + 1, 8))))

# A request taking longer than this is cut off and its worker replaced. Uploads stream to
# disk, so this mostly bounds slow clients: behind a proxy that buffers request bodies
# (nginx does by default) gunicorn only sees the fast hop.
timeout = int(_env("ASSAY_WEB_TIMEOUT", "60"))

# Replace each worker after about a thousand requests, staggered so they do not all
# restart at once: bounds any slow growth in memory.
max_requests = 1000
max_requests_jitter = 100

# Workers' heartbeat files: a RAM disk, since a slow container filesystem can make live
# workers look dead.
worker_tmp_dir = "/dev/shm"

# Access log to stdout, errors to stderr: the container runtime collects both.
accesslog = "-"
errorlog = "-"

# Addresses whose X-Forwarded-* headers gunicorn believes (the TLS proxy in front). In
# Docker the proxy connects from a bridge address, so set this to that address, or to
# "*" when only the proxy can reach the container's port.
forwarded_allow_ips = _env("ASSAY_FORWARDED_ALLOW_IPS", "127.0.0.1")
