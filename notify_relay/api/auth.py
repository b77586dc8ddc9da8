"""API keys: who may call the HTTP API, and for which applications.

`NOTIFY_API_KEYS=NAME:SHA256HEX[:APP1|APP2],...` (the form is checked in
producers/settings.py). Only the SHA-256 of a key is configured, so the environment, a
`docker inspect` or a leaked .env never holds a usable key; a key is 256 random bits, so
its hash needs no slow KDF. A request says `Authorization: Bearer <key>`; the key's hash
is compared with every configured one in constant time (`hmac.compare_digest`, no early
exit), so the time taken says nothing about which hash, or how much of one, matched.

A key with applications may only enqueue for those (else 403) and reads only their jobs
(another application's job is "unknown", 404: its existence is not revealed). The key's
NAME is what logs and metrics show; the key itself never leaves this module.

Without any key the API refuses to start, unless NOTIFY_API_LOCAL=true, which serves
127.0.0.1 only and lets every request in as `local` (the rule Flower's guard follows).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from notify_relay.addresses import is_loopback
from producers.settings import API_KEY_ENTRY, Settings, SettingsError

#: Prefix of the keys `new_key` makes: a secret scanner (or a person) can tell what it is.
KEY_PREFIX = "nrk_"


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes = b""
    #: None: any application.
    applications: frozenset[str] | None = None

    def allows(self, application: str) -> bool:
        return self.applications is None or application in self.applications


#: Who a request is when NOTIFY_API_LOCAL lets it in without a key.
LOCAL = ApiKey("local")


class Keyring:
    """The configured keys; `authenticate` finds the one an Authorization header holds."""

    def __init__(self, keys: Iterable[ApiKey], local: bool = False) -> None:
        self.keys = tuple(keys)
        self.local = local and not self.keys

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        return cls(parse_keys(settings.api_keys), settings.api_local)

    def authenticate(self, authorization: str | None) -> ApiKey | None:
        """The key the header presents, LOCAL when keys are off, or None (refuse)."""
        if self.local:
            return LOCAL
        presented = _bearer(authorization)
        if presented is None:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found = None
        for key in self.keys:  # all of them, whatever matched: constant time
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found


def parse_keys(raw: str) -> list[ApiKey]:
    """NOTIFY_API_KEYS as `ApiKey`s (already checked by the settings)."""
    keys = []
    for entry in raw.split(",") if raw else ():
        match = API_KEY_ENTRY.fullmatch(entry.strip())
        assert match is not None  # Settings.from_env refused it otherwise
        apps = frozenset(match["apps"].split("|")) if match["apps"] else None
        keys.append(ApiKey(match["name"], bytes.fromhex(match["digest"]), apps))
    return keys


def _bearer(authorization: str | None) -> str | None:
    scheme, _, credentials = (authorization or "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials


def new_key(name: str, applications: Iterable[str] = ()) -> tuple[str, str]:
    """A fresh key and its NOTIFY_API_KEYS entry: (key, `NAME:SHA256HEX[:APP1|APP2]`)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    entry = f"{name}:{hashlib.sha256(key.encode()).hexdigest()}"
    apps = [app.strip() for app in applications if app.strip()]
    if apps:
        entry += ":" + "|".join(apps)
    if API_KEY_ENTRY.fullmatch(entry) is None:
        raise SettingsError(f"cannot make a key entry for {name!r}: a name is letters, "
                            "digits, . _ - (64 at most); an application code has no "
                            "':', ',', '|' or space", todo="pick another name")
    return key, entry


def check_can_serve(settings: Settings, host: str) -> None:
    """Refuse to start without keys, or with NOTIFY_API_LOCAL on a non-loopback host."""
    if settings.api_keys:
        return
    if not settings.api_local:
        raise SettingsError(
            "NOTIFY_API_KEYS is not set: the API enqueues for anyone who reaches it, so it "
            "needs keys", todo="make one with `notify-relay api-key NAME`; for a local run "
            "on 127.0.0.1 set NOTIFY_API_LOCAL=true")
    if not is_loopback(host):
        raise SettingsError(
            f"NOTIFY_API_LOCAL without NOTIFY_API_KEYS serves 127.0.0.1 only, not {host!r}",
            todo="drop --host (or pass --host 127.0.0.1), or set NOTIFY_API_KEYS")
