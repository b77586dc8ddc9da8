"""Who may see the dashboard, and the CSRF token of its forms.

The login is HTTP Basic, as Flower's: `NOTIFY_DASHBOARD_AUTH=user:password,...`, apart
from the API keys (an API run with NOTIFY_API_LOCAL=true still asks for this login).
The presented user and password are hashed (SHA-256, so every comparison has one length)
and compared with every configured pair with `hmac.compare_digest`, with no early exit:
the time taken says nothing about which user, or how much of a password, matched.

Without a login, NOTIFY_DASHBOARD_LOCAL=true lets in requests from a loopback address
only, as `local` (and the server refuses a non-loopback --host: `check_can_serve`).
Neither set: the dashboard is off (`/ui` answers 404), the API itself unchanged.

CSRF: every form carries `csrf`, an HMAC of the signed-in user's name under the server's
key (NOTIFY_DASHBOARD_SECRET, or one made per `notify-relay api` start and shared by its
workers), checked in constant time on every POST. A cross-site page can make the browser
send the cached Basic login, but it cannot read our pages, so it cannot know the token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from notify_relay.addresses import is_loopback
from producers.settings import Settings, SettingsError

#: Who a request is when NOTIFY_DASHBOARD_LOCAL lets it in without a login.
LOCAL_USER = "local"
REALM = 'Basic realm="notify-relay dashboard", charset="UTF-8"'


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class User:
    name: str
    name_digest: bytes
    password_digest: bytes


class Gate:
    """The configured logins (or local mode) and the CSRF key."""

    def __init__(self, users: list[User], local: bool, secret: bytes,
                 control: bool = False) -> None:
        self.users = tuple(users)
        self.local = local and not self.users
        self._secret = secret
        self.control = control

    @classmethod
    def from_settings(cls, settings: Settings, fallback_secret: bytes) -> Gate:
        secret = settings.dashboard_secret.encode() or fallback_secret
        return cls(parse_users(settings.dashboard_auth), settings.dashboard_local, secret,
                   settings.dashboard_control)

    @property
    def on(self) -> bool:
        return bool(self.users) or self.local

    def who(self, authorization: str | None, client_host: str | None) -> str | None:
        """The user a request is (its Basic login, or LOCAL_USER), or None: refuse."""
        if self.local:
            return LOCAL_USER if client_host and is_loopback(client_host) else None
        presented = _basic(authorization)
        if presented is None:
            return None
        name, password = _digest(presented[0]), _digest(presented[1])
        found = None
        for user in self.users:  # all of them, whatever matched: constant time
            same_name = hmac.compare_digest(name, user.name_digest)
            same_password = hmac.compare_digest(password, user.password_digest)
            if same_name & same_password:
                found = user.name
        return found

    def csrf_token(self, user: str) -> str:
        return hmac.new(self._secret, b"csrf\0" + user.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()

    def csrf_ok(self, user: str, presented: str | None) -> bool:
        return hmac.compare_digest(self.csrf_token(user).encode(),
                                   (presented or "").encode("utf-8", "surrogatepass"))


def parse_users(raw: str) -> list[User]:
    """NOTIFY_DASHBOARD_AUTH as users (the form is checked by the settings)."""
    users = []
    for entry in raw.split(",") if raw else ():
        name, _, password = entry.partition(":")
        users.append(User(name, _digest(name), _digest(password)))
    return users


def _basic(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, colon, password = decoded.partition(":")
    return (name, password) if colon else None


def check_can_serve(settings: Settings, host: str) -> None:
    """Refuse NOTIFY_DASHBOARD_LOCAL without a login on a non-loopback listen address."""
    if settings.dashboard_auth or not settings.dashboard_local or is_loopback(host):
        return
    raise SettingsError(
        f"NOTIFY_DASHBOARD_LOCAL without NOTIFY_DASHBOARD_AUTH serves 127.0.0.1 only, not "
        f"{host!r}", todo="drop --host (or pass --host 127.0.0.1), or set "
        "NOTIFY_DASHBOARD_AUTH=user:password")
