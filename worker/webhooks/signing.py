"""Standard Webhooks signatures: the headers of one try of one event.

`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the key that
NOTIFY_WEBHOOK_SECRET carries (`whsec_` + base64). The `standardwebhooks` library signs,
the reference implementation receivers verify with, so both sides read the secret and
build the signed text the same way. The timestamp is the try's (a retry is signed
afresh: receivers refuse old timestamps), the id the event's (the same on every try).
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks import Webhook


class Signer:
    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)  # the decoded key lives only in here

    def headers(self, event_id: str, body: str, now: float) -> dict[str, str]:
        at = int(now)
        signature = self._webhook.sign(event_id, datetime.fromtimestamp(at, UTC), body)
        return {"webhook-id": event_id, "webhook-timestamp": str(at),
                "webhook-signature": signature}

    def __repr__(self) -> str:
        return "Signer(***)"
