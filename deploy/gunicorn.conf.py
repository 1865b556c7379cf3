"""Gunicorn settings for Carshop: https://docs.gunicorn.org/en/stable/settings.html

Started by deploy/systemd/carapp.service (and carapp-staging.service) as

    .venv/bin/gunicorn --config deploy/gunicorn.conf.py

Each value can be changed with a GUNICORN_* variable in the environment file of the service
(.env.production or .env.staging; the variables are described in .env.example). A malformed value
stops gunicorn with one line naming the variable.

The application writes its own access log (carshop.middleware.AccessLogMiddleware -> access.log),
so gunicorn's access log is off; gunicorn's own messages (worker boots, timeouts) go to stderr,
which systemd keeps in the journal: `journalctl -u carapp`.
"""

import os
from pathlib import Path


def _env_int(name, default, minimum):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"gunicorn: {name}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise SystemExit(f"gunicorn: {name}: must be at least {minimum}, got {number}")
    return number


def _cpu_count():
    # The CPUs this process may run on (a cgroup or taskset can give fewer than the machine has).
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# The project: the folder above deploy/, so the config works from any checkout.
chdir = str(Path(__file__).resolve().parent.parent)
wsgi_app = "carshop.wsgi:application"

# 127.0.0.1:8000 by default; the systemd units use a unix socket (unix:/run/carapp/gunicorn.sock)
# that only nginx (member of the carapp group) can reach. Several addresses: comma-separated.
bind = [
    address.strip()
    for address in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
    if address.strip()
]
# Socket file mode 0770: the carapp group (nginx) may connect, other local users may not,
# so nobody can bypass nginx and forge X-Forwarded-* headers.
umask = 0o007

# Synchronous workers: the admin and the API are database-bound; nginx buffers slow clients.
workers = _env_int("GUNICORN_WORKERS", 2 * _cpu_count() + 1, minimum=1)
worker_class = "sync"

# A request that takes longer than this is killed (the worker is restarted). Reports and exports
# that need more run as management commands, not requests.
timeout = _env_int("GUNICORN_TIMEOUT", 30, minimum=1)
# On restart (HUP, systemctl reload) workers get this long to finish the requests they serve.
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=1)
keepalive = 5

# Recycle each worker after about this many requests, so slow memory growth cannot accumulate;
# the jitter keeps all workers from restarting at the same moment.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000, minimum=0)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10, minimum=0)

# Workers touch a heartbeat file every few seconds; on a disk-backed /tmp that can block them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# Not preloaded: each worker imports the application itself, so `systemctl reload` (HUP) starts
# workers on the code that is on disk now.
preload_app = False

accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info").strip().lower()
if loglevel not in {"debug", "info", "warning", "error", "critical"}:
    raise SystemExit(
        f"gunicorn: GUNICORN_LOG_LEVEL: expected debug, info, warning, error or critical, "
        f"got {loglevel!r}"
    )

# nginx on the same machine sets X-Forwarded-Proto; trust it only from there.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# gunicorn's control socket (gunicornc) goes into the service's runtime directory
# (/run/carapp, from RuntimeDirectory= in the unit); the default under $HOME is read-only there.
_runtime_dir = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
if _runtime_dir:
    control_socket = os.path.join(_runtime_dir, "gunicorn.ctl")

proc_name = f"carshop-{os.environ.get('DJANGO_ENV', 'development')}"
