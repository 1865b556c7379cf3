"""The two-host drill: two Carshop app servers (gunicorn, each on its own port) behind nginx on
loopback, sharing one Redis and one PostgreSQL, as docs/scale-out.md lays them out.

    make bench-two-hosts          (python -m bench.two_hosts; writes bench/RESULTS-scaleout.md)

It checks what several hosts must share, through nginx and through each instance directly:

1. a partner key's rate limit holds across both instances (the counter is in Redis): of twice the
   rate's requests, spread over both, exactly the rate's number pass;
2. a session made by logging in on one instance works on the other;

then runs the same bounded load (a fixed number of requests at a fixed concurrency, the API's
listings page) through nginx against one instance and against two, and prints requests per
second, p50/p95/p99 latency and errors side by side. The instances, nginx and the load generator
share this machine's cores, so the figures are about what the set-up costs and that nothing
fails, not about what a second machine adds.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS-scaleout.md"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/carshop_drill"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
LISTINGS = "/api/v1/listings/"
LIMITED_RATE = 10  # requests a minute of the rate-limit check's key
PASSWORD = "Drill-pass-word-42"  # noqa: S105 (a throw-away user of the drill database)

SETUP = """
import json
from django.contrib.auth.models import Group
from accounts import services
from accounts.models import Partner, User
from accounts.roles import MANAGER

partner = Partner.objects.filter(slug="drill").first() or services.create_partner(
    "Drill", kind="marketplace"
)
for key in partner.keys.filter(revoked_at__isnull=True):
    services.revoke_key(key)
_k, limited = services.issue_key(
    partner, name="limited", scopes=["listings:read"], throttle_rate="{rate}/min"
)
_k, load = services.issue_key(
    partner, name="load", scopes=["listings:read"], throttle_rate="1000000/min"
)
user = User.objects.filter(username="drill-manager").first() or User.objects.create_user(
    "drill-manager", password="{password}", is_staff=True
)
user.groups.add(Group.objects.get(name=MANAGER))
print(json.dumps({"limited": limited, "load": load}))
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(args, prefix):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_"))}
    env.update(
        DJANGO_ENV="development",
        DEBUG="false",
        DATABASE_URL=args.database_url,
        CACHE_URL=f"{args.redis_url}?key_prefix={prefix}",
        TRUSTED_PROXY_COUNT="1",
        LOG_TO_CONSOLE="false",
        LOG_DIR=str(Path(tempfile.gettempdir()) / f"carshop-drill-logs-{prefix}"),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        STATIC_ROOT=str(ROOT / "var" / "drill-static"),
    )
    return env


def manage(env, *arguments):
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(arguments)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


class Instance:
    """One app server: gunicorn with deploy/gunicorn.conf.py on its own port."""

    def __init__(self, env, workers):
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                "deploy/gunicorn.conf.py",
                "carshop.wsgi",
            ],
            cwd=ROOT,
            env={
                **env,
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                "GUNICORN_WORKERS": str(workers),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(f"http://127.0.0.1:{self.port}/api/v1/", self.process)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def wait_for(url, process, attempts=600):
    for _ in range(attempts):
        try:
            requests.get(url, timeout=30)
            return
        except requests.RequestException:
            if process.poll() is not None:
                raise SystemExit(f"{url}: the server stopped") from None
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
user root;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream carshop {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://carshop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


class Nginx:
    """nginx on loopback, round robin over the given instances (as deploy/nginx/ does over one)."""

    def __init__(self, instances):
        self.root = Path(tempfile.mkdtemp(prefix="carshop-drill-nginx-"))
        self.port = free_port()
        servers = "\n".join(f"        server {i.address};" for i in instances)
        conf = self.root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=self.root, servers=servers, port=self.port))
        self.process = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for(self.url("/api/v1/"), self.process)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def check_rate_limit(nginx, key):
    """Twice the rate through nginx, over both instances: how many passed, and who served."""
    session = requests.Session()
    session.headers["Authorization"] = f"Api-Key {key}"
    statuses, upstreams = [], set()
    for _ in range(2 * LIMITED_RATE):
        response = session.get(nginx.url(LISTINGS), timeout=30)
        statuses.append(response.status_code)
        upstreams.add(response.headers.get("X-Upstream", ""))
    return {
        "sent": len(statuses),
        "passed": statuses.count(200),
        "refused": statuses.count(429),
        "other": len(statuses) - statuses.count(200) - statuses.count(429),
        "instances": sorted(upstreams),
    }


def check_session(first, second):
    """Log in on the first instance; open the admin with that session on the second."""
    session = requests.Session()
    login = f"http://{first.address}/admin/login/"
    page = session.get(login, timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = session.post(
        login + "?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": "drill-manager", "password": PASSWORD},
        headers={"Referer": login},
        timeout=30,
    )
    logged_in = response.url.endswith("/admin/")
    other = session.get(f"http://{second.address}/admin/", timeout=30, allow_redirects=False)
    return {
        "logged_in_on": first.address,
        "opened_on": second.address,
        "status": other.status_code,
        "works": logged_in and other.status_code == 200 and "drill-manager" in other.text,
    }


def load(url, key, requests_total, concurrency):
    """`requests_total` GETs of `url` by `concurrency` clients: rps, percentiles, errors."""
    per_client = requests_total // concurrency

    def client(_n):
        session = requests.Session()
        session.headers["Authorization"] = f"Api-Key {key}"
        times, errors = [], 0
        for _ in range(per_client):
            started = time.perf_counter()
            try:
                ok = session.get(url, timeout=60).status_code == 200
            except requests.RequestException:
                ok = False
            times.append(time.perf_counter() - started)
            errors += not ok
        return times, errors

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        done = list(pool.map(client, range(concurrency)))
    elapsed = time.perf_counter() - started
    times = sorted(t for found, _e in done for t in found)
    cuts = statistics.quantiles(times, n=100)
    return {
        "requests": len(times),
        "errors": sum(e for _t, e in done),
        "seconds": elapsed,
        "rps": len(times) / elapsed,
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
    }


def machine():
    load1 = os.getloadavg()[0]
    cpus = os.cpu_count()
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    redis_version = redis.Redis.from_url(DEFAULT_REDIS).info().get("redis_version")
    return (
        f"{platform.processor() or platform.machine()}, {cpus} cores, load average "
        f"{load1:.2f} at the start; Python {platform.python_version()}; "
        f"{nginx.replace('nginx version: ', '')}; Redis {redis_version}"
    )


def write_results(args, context):
    rate, session, runs = context["rate"], context["session"], context["runs"]
    holds = rate["passed"] == LIMITED_RATE and len(rate["instances"]) == 2
    lines = [
        "# Two app hosts behind nginx: the drill",
        "",
        f"Measured {context['when']} with `make bench-two-hosts` (`python -m bench.two_hosts "
        f"--requests {args.requests} --concurrency {args.concurrency} --workers "
        f"{args.workers}`). The set-up is docs/scale-out.md's: each instance is gunicorn with "
        "deploy/gunicorn.conf.py on its own port, nginx on loopback balances them (round "
        "robin, keep-alive), one Redis (cache, rate limits, sessions) and one PostgreSQL.",
        "",
        f"- Machine: {context['machine']}",
        f"- Database: `{args.database_url.rsplit('@', 1)[-1]}` (the demo data of "
        "`seed_demo`), Redis database "
        f"`{args.redis_url.rsplit('/', 1)[-1]}` with a key prefix of this run",
        "",
        "## What several hosts must share",
        "",
        "| check | result |",
        "| --- | --- |",
        f"| a key limited to {LIMITED_RATE} requests a minute sends {rate['sent']} through "
        f"nginx, served by {len(rate['instances'])} instances | {rate['passed']} passed, "
        f"{rate['refused']} refused with 429, {rate['other']} other: "
        f"**{'holds' if holds else 'FAILS'}** |",
        f"| log in on {session['logged_in_on']}, open /admin/ on {session['opened_on']} "
        f"| {session['status']}: **{'works' if session['works'] else 'FAILS'}** |",
        "",
        "## The same bounded load on one instance and on two",
        "",
        f"{args.requests} GETs of `{LISTINGS}` (a partner key, first page of 50 cars) by "
        f"{args.concurrency} concurrent clients through nginx; {args.workers} gunicorn workers "
        "per instance. One warm-up of 100 requests before each run.",
        "",
        "| behind nginx | requests | requests/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, found in runs:
        lines.append(
            f"| {label} | {found['requests']} | {found['rps']:.1f} | {found['p50']:.1f} | "
            f"{found['p95']:.1f} | {found['p99']:.1f} | {found['errors']} |"
        )
    lines += [
        "",
        "Both instances, nginx, PostgreSQL, Redis and the load generator run on this one "
        "machine and share its cores (with other people's work: see the load average), so two "
        "instances here run twice the workers on the same cores and cannot serve more than "
        "one; what the run shows is that a load balanced over two hosts sharing Redis and "
        "PostgreSQL completes without errors. On two machines each instance has its own cores, "
        "and PostgreSQL (with its read replica) is the shared limit (docs/scale-out.md).",
        "",
        "## How to reproduce",
        "",
        "```bash",
        "apt-get install -y nginx redis-server   # and PostgreSQL on 127.0.0.1:5432",
        "make bench-two-hosts   # BENCH_ARGS='--requests 4000 --concurrency 32' for another run",
        "```",
        "",
        "It makes (or reuses) the database `carshop_drill` with `seed_demo`, starts the two "
        "instances and nginx on free ports of 127.0.0.1, runs the checks and the load, stops "
        "them, and rewrites this file. `--database-url` and `--redis-url` point it elsewhere.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    args = parser.parse_args(argv)
    if not shutil.which("nginx"):
        raise SystemExit("needs nginx (apt-get install -y nginx)")

    prefix = f"drill-{uuid.uuid4().hex[:8]}"
    env = environment(args, prefix)
    database = args.database_url.rsplit("/", 1)
    exists = subprocess.run(
        ["psql", f"{database[0]}/postgres", "-XAtc",
         f"SELECT 1 FROM pg_database WHERE datname = '{database[1]}'"],  # noqa: S608
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not exists:
        subprocess.run(
            ["psql", f"{database[0]}/postgres", "-Xqc", f'CREATE DATABASE "{database[1]}"'],
            check=True,
        )
    print("migrating and seeding", args.database_url, flush=True)
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "seed_demo", "--if-empty")
    manage(env, "collectstatic", "--no-input", "-v0")  # the admin's pages need the manifest
    setup = SETUP.replace("{rate}", str(LIMITED_RATE)).replace("{password}", PASSWORD)
    keys = json.loads(manage(env, "shell", "-c", setup).strip().splitlines()[-1])

    context = {
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "runs": [],
    }
    instances = [Instance(env, args.workers), Instance(env, args.workers)]
    try:
        both = Nginx(instances)
        try:
            context["rate"] = check_rate_limit(both, keys["limited"])
            print("rate limit:", context["rate"], flush=True)
            context["session"] = check_session(*instances)
            print("session:", context["session"], flush=True)
        finally:
            both.stop()
        for label, behind in (("one instance", instances[:1]), ("two instances", instances)):
            nginx = Nginx(behind)
            try:
                load(nginx.url(LISTINGS), keys["load"], 100, args.concurrency)  # warm-up
                found = load(nginx.url(LISTINGS), keys["load"], args.requests, args.concurrency)
            finally:
                nginx.stop()
            print(label, {k: round(v, 1) for k, v in found.items()}, flush=True)
            context["runs"].append((label, found))
    finally:
        for instance in instances:
            instance.stop()
        client = redis.Redis.from_url(args.redis_url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
    write_results(args, context)
    print("wrote", RESULTS.relative_to(ROOT))
    failed = context["rate"]["passed"] != LIMITED_RATE or not context["session"]["works"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
