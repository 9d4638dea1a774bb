"""Change events from the systems of record: `POST /events/{system}`, signed webhooks.

Each event is checked before anything is done with it, as Standard Webhooks specify:

- the signature: `webhook-signature` holds one or more `v1,<base64>` (several while a secret is
  rotated), each an HMAC-SHA256 of `"<webhook-id>.<webhook-timestamp>.<body>"` with the shared
  secret (`events.secret`; `whsec_<base64>` is that key, any other text its UTF-8), compared in
  constant time. None matching: 401, `forged`.
- the timestamp: within `events.tolerance` seconds (300) of now, either way, so a captured
  event cannot be sent again later. Outside it: 400, `expired`.
- the id: an event id seen before is refused (409, `duplicate`); ids are kept for
  `events.keep` seconds (a day, far past the tolerance), at most `events.max_ids` in this
  process, and claimed in Redis (`SET NX`) when it is configured, so a replayed or retried
  event is taken once across replicas. The systems send at least once, and treat 409 as
  delivered.

Every refusal is counted (`isthmus_events_total{system, outcome}`) and logged. An accepted
change drops exactly the cache entries it made stale, in every replica, and goes to the
subscriptions (server/changes.py). Without `events.secret` the endpoint does not exist (404).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from server.errors import BadRequest, EventDuplicate, EventExpired, EventRefused, EventSignatureInvalid
from server.gateway import error_body
from server.metrics import Metrics
from server.settings import EventSettings
from sources.changes import SYSTEMS, decode

log = logging.getLogger("isthmus.events")

MAX_EVENT_BYTES = 256_000


class EventMalformed(EventRefused):
    """Signed, but not a change event (or too large): a sender's bug, answered 400."""

    code = BadRequest.code
    outcome = "malformed"


def secret_key(secret: str) -> bytes:
    """The HMAC key a secret stands for: `whsec_<base64>` as Standard Webhooks write it, else its UTF-8."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


class Verifier:
    """Signature and timestamp of a webhook, as Standard Webhooks define them."""

    def __init__(self, secret: str, tolerance: float, clock: Callable[[], float] = time.time) -> None:
        self.key = secret_key(secret)
        self.tolerance = tolerance
        self.clock = clock

    def verify(self, headers: Any, body: bytes) -> str:
        """The event's id, or EventRefused saying what is wrong."""
        event_id, stamp, signatures = (headers.get(f"webhook-{name}") for name in ("id", "timestamp", "signature"))
        if not event_id or not stamp or not signatures or len(event_id) > 200 or not event_id.isprintable():
            raise EventSignatureInvalid("webhook-id, webhook-timestamp and webhook-signature are required.")
        expected = hmac.new(self.key, f"{event_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        if not any(self._matches(expected, signature) for signature in signatures.split()):
            raise EventSignatureInvalid("The signature does not verify.")
        try:
            at = int(stamp)
        except ValueError:
            raise EventSignatureInvalid("webhook-timestamp is not a number of seconds.") from None
        if abs(self.clock() - at) > self.tolerance:
            raise EventExpired(f"The timestamp is more than {self.tolerance:g} s from now.")
        return event_id

    @staticmethod
    def _matches(expected: bytes, signature: str) -> bool:
        version, _, encoded = signature.partition(",")
        if version != "v1":
            return False
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(expected, given)


def add_event_routes(app: FastAPI, metrics: Metrics, settings: EventSettings) -> None:
    """`POST /events/{system}` when `events.secret` is set."""
    if settings.secret is None:
        return
    verifier = Verifier(settings.secret.get_secret_value(), settings.tolerance)

    @app.post("/events/{system}", summary="A change event from a system of record (a signed webhook)")
    async def take_event(system: str, request: Request) -> Response:
        services = request.app.state.services
        body = await request.body()
        if system not in SYSTEMS:
            return Response(error_body(f"No system {system[:40]!r} sends events here.", "NOT_FOUND"), 404)
        try:
            if len(body) > MAX_EVENT_BYTES:
                raise EventMalformed(f"An event is at most {MAX_EVENT_BYTES} bytes.")
            event_id = verifier.verify(request.headers, body)  # before anything else is read of it
            try:
                change = decode(system, event_id, body)
            except msgspec.DecodeError as exc:
                raise EventMalformed(f"Not a change event: {exc}") from None
            if not await services.seen_events.claim(system, event_id):
                raise EventDuplicate(f"Event {event_id} was taken before.")
        except EventRefused as refused:
            metrics.event(system, refused.outcome)
            log.warning("refused a change event from %s (%s): %s", system, refused.outcome, refused)
            return Response(error_body(str(refused), refused.code), refused.status, media_type="application/json")
        await services.changes.accept(change)
        metrics.event(system, "accepted")
        return Response(orjson.dumps({"accepted": event_id}), media_type="application/json")
