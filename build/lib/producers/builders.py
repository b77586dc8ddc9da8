"""Typed builders for the two common requests: a push to a segment, a transactional push.

    request = segment_push("ABCDE-12345", [Platform.IOS, Platform.ANDROID],
                           code="active_users", title="Sale", body="20% off today")
    producer.enqueue(request)

Each returns a plain dict that `producers.validate` accepts (for valid arguments: the
text, ids and codes are checked when the request is validated, at enqueue). Text is one
string for every language (sent under the `"default"` locale, §7) or a mapping of locale
to string. Without `at` or `after` the message is sent as soon as it is received
(`"after": "0s"`, §5), which stays true when a job is retried later.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from producers.schemas.enums import BLOCK_PLATFORMS, MessageType, Platform

Text = str | Mapping[str, str]
When = datetime | str
Delay = timedelta | int | float | str

_PLATFORM_BLOCKS = {platform.value: block for block, platform in BLOCK_PLATFORMS.items()}

__all__ = ["segment_push", "transactional_push"]


def segment_push(
    application: str,
    platforms: Iterable[Platform | str],
    *,
    body: Text,
    title: Text | None = None,
    code: str | None = None,
    expression: str | None = None,
    at: When | None = None,
    after: Delay | None = None,
    custom_data: Mapping[str, Any] | None = None,
    message_type: MessageType | str | None = None,
    campaign: str | None = None,
) -> dict[str, Any]:
    """A push to the audience of segment `code` or seglang `expression` (§3: one of them)."""
    if (code is None) == (expression is None):
        raise ValueError("segment_push: give exactly one of code= or expression=")
    names = _platform_names(platforms)
    segment: dict[str, Any] = {"application": application, "platforms": names}
    segment.update({"code": code} if code is not None else {"expression": expression})
    segment["payload"] = _payload(names, body, title, custom_data)
    segment["schedule"] = schedule(at=at, after=after)
    _put(segment, "message_type", _name(message_type))
    _put(segment, "campaign", campaign)
    return {"segment": segment}


def transactional_push(
    application: str,
    platforms: Iterable[Platform | str],
    *,
    body: Text,
    title: Text | None = None,
    users: Iterable[str] | None = None,
    hwids: Iterable[str] | None = None,
    push_tokens: Iterable[str] | None = None,
    at: When | None = None,
    after: Delay | None = None,
    custom_data: Mapping[str, Any] | None = None,
    message_type: MessageType | str | None = MessageType.TRANSACTIONAL,
    return_unknown_identifiers: bool | None = None,
) -> dict[str, Any]:
    """A push to explicit user ids, HWIDs and/or push tokens (§4: `{"list": [...]}` each).

    `message_type` defaults to MESSAGE_TYPE_TRANSACTIONAL (no control-group filtering,
    §11.2); pass None to leave it out and get the server's default (marketing).
    """
    targets = {"users": users, "hwids": hwids, "push_tokens": push_tokens}
    if all(ids is None for ids in targets.values()):
        raise ValueError("transactional_push: give users=, hwids= or push_tokens=")
    names = _platform_names(platforms)
    body_: dict[str, Any] = {"application": application, "platforms": names}
    for key, ids in targets.items():
        if ids is not None:
            body_[key] = {"list": _ids(key, ids)}
    body_["payload"] = _payload(names, body, title, custom_data)
    body_["schedule"] = schedule(at=at, after=after)
    _put(body_, "message_type", _name(message_type))
    _put(body_, "return_unknown_identifiers", return_unknown_identifiers)
    return {"transactional": body_}


def schedule(*, at: When | None = None, after: Delay | None = None) -> dict[str, str]:
    """§5 `schedule`: `at` (aware datetime or RFC 3339 text) or `after` (a delay); default now."""
    if at is not None and after is not None:
        raise ValueError("schedule: give at= or after=, not both")
    if at is not None:
        return {"at": rfc3339(at) if isinstance(at, datetime) else at}
    if after is None:
        return {"after": "0s"}
    return {"after": after if isinstance(after, str) else duration(after)}


def rfc3339(moment: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC, e.g. 2026-05-01T09:00:00Z (§1.1)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("rfc3339: the datetime needs a time zone (e.g. tzinfo=UTC)")
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}{fraction}Z"  # %Y does not pad year 999


def duration(delay: timedelta | int | float) -> str:
    """A finite, non-negative delay as protobuf JSON Duration text: 3600 -> "3600s" (§1.1)."""
    if isinstance(delay, bool):
        raise TypeError("duration: a delay is a timedelta or a number of seconds")
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"duration: a delay cannot be negative, got {delay!r}")
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def localized_content(platforms: list[str], body: Text, title: Text | None) -> dict[str, Any]:
    """§7 `content`: one entry per locale, one block per targeted platform."""
    bodies = {"default": body} if isinstance(body, str) else dict(body)
    titles = {locale: title for locale in bodies} if isinstance(title, str) else dict(title or {})
    extra = set(titles) - set(bodies)
    if extra:
        raise ValueError(f"localized_content: titles for locales without a body: {sorted(extra)}")
    blocks = [_block(p) for p in platforms]
    locales = {}
    for locale, text in bodies.items():
        message = {"title": titles[locale], "body": text} if locale in titles else {"body": text}
        locales[locale] = {block: dict(message) for block in blocks}
    return {"localized_content": locales}


def _payload(
    platforms: list[str], body: Text, title: Text | None, custom_data: Mapping[str, Any] | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"content": localized_content(platforms, body, title)}
    _put(payload, "custom_data", dict(custom_data) if custom_data is not None else None)
    return payload


def _platform_names(platforms: Iterable[Platform | str]) -> list[str]:
    if isinstance(platforms, str):
        raise TypeError("platforms: give a list such as [Platform.IOS], not one string")
    names = [str(Platform(p)) for p in platforms]
    return list(dict.fromkeys(names))  # once each, order kept


def _block(platform: str) -> str:
    block = _PLATFORM_BLOCKS.get(platform)
    if block is None:
        raise ValueError(f"{platform} has no push content block; use another builder or a dict")
    return block


def _ids(key: str, ids: Iterable[str]) -> list[str]:
    if isinstance(ids, str):
        raise TypeError(f"{key}: give a list of ids, not one string")
    return list(ids)


def _name(value: MessageType | str | None) -> str | None:
    return None if value is None else str(MessageType(value))


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value
