"""Webhook targets: the worker connects to the address it checked (a name that answers a public
address, then 127.0.0.1, does not reach loopback), never to IPv6 forms that carry an IPv4
address, and only on the https port in production. DNS is the outside world here: the tests
answer for it by replacing socket.getaddrinfo; every connection is real."""

import os
import socket
import subprocess
import threading
from datetime import timedelta

import pytest
from django.db import transaction

from accounts import services, webhooks
from accounts.exceptions import AccountsError
from accounts.models import WebhookDelivery
from tests.helpers.api import Receiver, partner_with_key, verified_subscription

pytestmark = pytest.mark.django_db

STATUS_CHANGED = "repair_order.status_changed"
PUBLIC = "93.184.216.34"  # a global address (none of the tests' servers listen there)
_real_getaddrinfo = socket.getaddrinfo


class Resolver:
    """Answers for one host name: the first answer to the first question, then the next."""

    def __init__(self, name, *answers):
        self.name, self.answers, self.questions = name, list(answers), 0

    def __call__(self, host, port, *args, **kwargs):
        if host != self.name:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        answer = self.answers[min(self.questions, len(self.answers) - 1)]
        self.questions += 1
        family = socket.AF_INET6 if ":" in answer else socket.AF_INET
        address = (answer, port, 0, 0) if family == socket.AF_INET6 else (answer, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)]


class Listener:
    """A TCP listener that counts the connections it accepts (and answers none)."""

    def __init__(self, host, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.accepted = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self.stopped.set()
        self.thread.join()
        self.sock.close()


def deliver_one(url):
    partner, _key, _plain = partner_with_key()
    subscription = verified_subscription(partner, url=url, events=[STATUS_CHANGED])
    with transaction.atomic():
        event = webhooks.publish(STATUS_CHANGED, {"id": 1})
    delivery = WebhookDelivery.objects.get(event=event, subscription=subscription)
    webhooks.attempt_delivery(delivery.pk, now=delivery.next_attempt_at + timedelta(seconds=1))
    delivery.refresh_from_db()
    return delivery


def test_a_name_that_answers_public_then_loopback_never_reaches_loopback(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    settings.WEBHOOK_TIMEOUT = 2
    try:
        loopback = Listener("127.0.0.1", 443)
    except OSError as exc:  # port 443 needs root, and must be free
        # CI runs as root and must prove it; a developer without root skips it.
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"cannot listen on 127.0.0.1:443: {exc}")
        pytest.skip(f"cannot listen on 127.0.0.1:443: {exc}")
    resolver = Resolver("rebind.example.com", PUBLIC, "127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    try:
        with pytest.MonkeyPatch.context() as no_tasks:
            no_tasks.setattr(webhooks, "enqueue", lambda *args, **kwargs: None)
            delivery = deliver_one("https://rebind.example.com/hooks")
    finally:
        loopback.close()

    assert loopback.accepted == 0
    assert resolver.questions == 1  # resolved once: the checked answer is the one used
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    assert delivery.response_status is None


def test_the_connection_goes_to_the_first_answer_and_names_the_host(monkeypatch):
    with Receiver([200]) as checked:
        port = checked.server.server_address[1]
        with Receiver([200], host="127.0.0.2", port=port) as other:
            resolver = Resolver("hooks.example.com", "127.0.0.1", "127.0.0.2")
            monkeypatch.setattr(socket, "getaddrinfo", resolver)
            delivery = deliver_one(f"http://hooks.example.com:{port}/hooks?a=1")

    assert delivery.status == WebhookDelivery.Status.DELIVERED
    [request] = checked.received
    assert request["headers"]["Host"] == f"hooks.example.com:{port}"
    assert request["path"] == "/hooks?a=1"
    assert other.received == []


@pytest.mark.parametrize(
    "answer",
    [
        "127.0.0.1",
        "10.1.2.3",
        "::1",
        "::127.0.0.1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::808:808",
        "2002:7f00:1::1",
        "2002:808:808::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "fe80::1",
        "fc00::1",
    ],
)
def test_a_name_answering_a_non_public_or_ipv4_carrying_address_is_refused(
    answer, settings, monkeypatch
):
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    monkeypatch.setattr(socket, "getaddrinfo", Resolver("hooks.example.com", answer))
    with pytest.raises(AccountsError, match="resolves to a non-public address"):
        webhooks.resolve_target("https://hooks.example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "https://[::127.0.0.1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[2002:7f00:1::]/",
        "https://127.0.0.1/",
    ],
)
def test_subscribing_an_ipv6_form_of_a_private_address_is_refused(url, settings):
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    partner, _key, _plain = partner_with_key()
    with pytest.raises(AccountsError, match="public address"):
        services.subscribe(partner, url=url, events=[STATUS_CHANGED])


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://hooks.example.com/", True),
        ("https://hooks.example.com:443/", True),
        ("https://hooks.example.com:8443/", False),
        ("https://hooks.example.com:22/", False),
        ("https://hooks.example.com:6379/", False),
    ],
)
def test_production_urls_use_the_https_port(url, allowed, settings):
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False
    if allowed:
        webhooks.validate_target_url(url)
    else:
        with pytest.raises(AccountsError, match="port 443"):
            webhooks.validate_target_url(url)


def test_https_checks_the_certificate_for_the_name_while_connecting_to_the_pinned_address(
    tmp_path, monkeypatch, settings
):
    import http.server
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=hooks.example.com",
            "-addext",
            "subjectAltName=DNS:hooks.example.com",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["host"] = self.headers["Host"]
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen.setdefault("sni", []).append(name) and None
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    port = server.server_address[1]
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test's certificate
    monkeypatch.setattr(socket, "getaddrinfo", Resolver("hooks.example.com", "127.0.0.1"))
    try:
        status, _text, error = webhooks.send_signed(
            f"https://hooks.example.com:{port}/h", "whsec_x", b"{}", {}
        )
        wrong_name, _text, name_error = webhooks.send_signed(
            f"https://127.0.0.1:{port}/h", "whsec_x", b"{}", {}
        )
    finally:
        server.shutdown()
        server.server_close()

    assert (status, error) == (204, "")
    assert seen["host"] == f"hooks.example.com:{port}"
    assert seen["sni"][0] == "hooks.example.com"
    assert wrong_name is None and "certificate" in name_error.lower()
