"""Text messages: a small backend interface, a file backend for development and Twilio's
Messages API for production (SMS_BACKEND).

A backend's send() returns the provider's id and status, or raises SmsError saying whether the
message may be tried again: `retry` only when the provider certainly did not take it (no
connection, 429, 5xx). A timeout after the request went out is not retried: the provider may
have taken it, and a message is never sent twice.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class SmsError(Exception):
    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class SmsResult:
    provider_id: str
    status: str  # "sent" or "delivered"


class SmsBackend(abc.ABC):
    """What a text message provider's backend does: send one message, say what became of it."""

    @abc.abstractmethod
    def send(self, to: str, body: str, *, status_callback: str = "") -> SmsResult:
        """Send `body` to `to`; the provider reports later to `status_callback`."""


class FileBackend(SmsBackend):
    """Development: each message is one JSON line in SMS_FILE_PATH (var/sms/messages.jsonl)."""

    def send(self, to: str, body: str, *, status_callback: str = "") -> SmsResult:
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        provider_id = f"file-{uuid.uuid4().hex}"
        line = {"id": provider_id, "to": to, "body": body, "at": timezone.now().isoformat()}
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
        return SmsResult(provider_id, "delivered")


class TwilioBackend(SmsBackend):
    """Twilio's Messages API: POST a form to /2010-04-01/Accounts/{sid}/Messages.json with basic
    authentication (account SID, auth token)."""

    def send(self, to: str, body: str, *, status_callback: str = "") -> SmsResult:
        sid, token = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
        if not (sid and token and settings.TWILIO_FROM_NUMBER):
            raise SmsError(
                "Text messages are not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
                "TWILIO_FROM_NUMBER).",
                retry=False,
            )
        base = settings.TWILIO_BASE_URL.rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise SmsError("TWILIO_BASE_URL must be an http(s) URL.", retry=False)
        url = f"{base}/2010-04-01/Accounts/{sid}/Messages.json"
        form = {"To": to, "From": settings.TWILIO_FROM_NUMBER, "Body": body}
        if status_callback:
            form["StatusCallback"] = status_callback
        request = urllib.request.Request(  # noqa: S310 (http(s) checked above)
            url,
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
            headers={
                "Authorization": "Basic "
                + base64.b64encode(f"{sid}:{token}".encode()).decode("ascii"),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.SMS_TIMEOUT) as response:  # noqa: S310
                answer = json.loads(response.read(65536) or b"{}")
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            retry = exc.code == 429 or exc.code >= 500
            raise SmsError(
                f"HTTP {exc.code} from the text provider: {detail}", retry=retry
            ) from None
        except TimeoutError:
            raise SmsError(
                "The text provider did not answer in time: the message may have been sent, so "
                "it is not sent again automatically.",
                retry=False,
            ) from None
        except urllib.error.URLError as exc:
            # No connection was made: nothing reached the provider.
            raise SmsError(f"Cannot reach the text provider: {exc.reason}", retry=True) from None
        except ValueError:
            raise SmsError("The text provider's answer was not JSON.", retry=False) from None
        status = "delivered" if answer.get("status") == "delivered" else "sent"
        return SmsResult(str(answer.get("sid", "")), status)


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        answer = json.loads(exc.read(65536))
        return str(answer.get("message") or answer)[:300]
    except (ValueError, OSError, AttributeError):
        return exc.reason if isinstance(exc.reason, str) else "error"


BACKENDS = {"file": FileBackend, "twilio": TwilioBackend}


def backend() -> SmsBackend:
    name = settings.SMS_BACKEND
    cls = BACKENDS.get(name) or import_string(name)
    return cls()


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's X-Twilio-Signature: base64 of HMAC-SHA1 over the URL followed by each POST
    parameter's name and value, sorted by name."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def valid_twilio_signature(url: str, params: dict[str, str], signature: str) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    return hmac.compare_digest(twilio_signature(token, url, params), signature)
