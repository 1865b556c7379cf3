"""Shared set-up of the API tests: partners with keys, and clients that send them."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Partner, User, WebhookSubscription

ALL_SCOPES = ["listings:read", "leads:write", "repairs:read", "accounting:read", "parts:read"]


def partner_with_key(
    name="Acme Fleet", scopes=("repairs:read",), kind=Partner.Kind.FLEET, **key_options
):
    """A partner and one key; returns (partner, key, plain key)."""
    partner = services.create_partner(name, kind=kind)
    key, plain = services.issue_key(partner, name="integration", scopes=list(scopes), **key_options)
    return partner, key, plain


def verified_subscription(partner, *, url, events, **options):
    """A subscription whose URL has answered the verification handshake, for tests about who
    receives an event at URLs nobody serves (the handshake itself: tests/test_webhook_safety.py)."""
    subscription = services.subscribe(partner, url=url, events=events, verify=False, **options)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(verified_at=timezone.now())
    subscription.refresh_from_db()
    return subscription


def key_client(plain):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    return client


def staff_client(username, role):
    user = User.objects.create_user(username, password="not-used-here-123", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = APIClient()
    client.force_login(user)
    return client, user


class Receiver:
    """An HTTP server on 127.0.0.1 that answers webhook POSTs with the statuses it is given, in
    order (the last one repeats), and keeps what it received. It answers the verification
    handshake as a partner's endpoint should, by echoing the challenge (unless `echo=False`),
    and keeps those requests apart, in `challenges`."""

    def __init__(self, statuses=(200,), *, host="127.0.0.1", port=0, echo=True):
        self.statuses = list(statuses)
        self.received = []
        self.challenges = []
        self.echo = echo
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if self.headers.get("X-Carshop-Event") == "webhook.verification":
                    receiver.challenges.append({"headers": dict(self.headers), "body": body})
                    answer = json.dumps(
                        {"challenge": json.loads(body)["challenge"]}
                        if receiver.echo
                        else {"ok": True}
                    ).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                receiver.received.append(
                    {"headers": dict(self.headers), "body": body, "path": self.path}
                )
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver is down")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/carshop"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
