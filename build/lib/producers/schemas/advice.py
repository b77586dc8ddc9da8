"""Warnings: what the reference advises but does not make a rule, as `path: text` lines.

Never raises, whatever it is given; meant for a request that validated.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from producers.schemas.content import AndroidContentSchema, PlatformContentSchema
from producers.schemas.enums import BLOCK_PLATFORMS, Platform
from producers.schemas.request import TransactionalSchema
from producers.schemas.schedule import ScheduleSchema

_APP_CODE = re.compile(r"[A-Z0-9]{5}-[A-Z0-9]{5}")
_V13_MAX_ATTACHMENTS = 2  # §14: v1.3 createEmailMessage limits (SEEN [D8]); v2 NOT FOUND
_V13_MAX_ATTACHMENT_CHARS = 1024 * 1024
_KNOWN = {
    "transactional": frozenset(TransactionalSchema().fields),
    "schedule": frozenset(ScheduleSchema().fields),
    "block": frozenset(PlatformContentSchema().fields),
    "android": frozenset(AndroidContentSchema().fields),
}


def request_warnings(request: Any) -> list[str]:
    if not isinstance(request, Mapping):
        return []
    found: list[str] = []
    for kind in ("segment", "transactional"):
        body = request.get(kind)
        if isinstance(body, Mapping):
            found.extend(_body_warnings(kind, body))
    return found


def _body_warnings(kind: str, body: Mapping[str, Any]) -> Iterator[str]:
    raw = body.get("platforms")
    platforms = [p for p in raw if isinstance(p, str)] if isinstance(raw, list | tuple) else []
    application = body.get("application")
    if isinstance(application, str) and not _APP_CODE.fullmatch(application):
        yield f"{kind}.application: does not look like an application code (XXXXX-XXXXX)."
    if len(set(platforms)) < len(platforms):
        yield f"{kind}.platforms: lists a platform twice."
    if kind == "transactional":
        yield from _extra_keys(kind, body, _KNOWN["transactional"])
    schedule = body.get("schedule")
    if isinstance(schedule, Mapping):
        yield from _extra_keys(f"{kind}.schedule", schedule, _KNOWN["schedule"])
    yield from _channel_warnings(kind, body, set(platforms))
    payload = body.get("payload")
    if isinstance(payload, Mapping):
        yield from _payload_warnings(f"{kind}.payload", payload, set(platforms))
    email = body.get("email_payload")
    if isinstance(email, Mapping):
        yield from _email_warnings(f"{kind}.email_payload", email)


def _channel_warnings(kind: str, body: Mapping[str, Any], platforms: set[str]) -> Iterator[str]:
    if "email_payload" in body and Platform.EMAIL not in platforms:
        yield f"{kind}.platforms: email_payload is sent but EMAIL is not targeted."
    if "payload" in body and platforms == {Platform.EMAIL}:
        yield f"{kind}.platforms: only EMAIL is targeted but the body is a push payload."


def _payload_warnings(path: str, payload: Mapping[str, Any], platforms: set[str]) -> Iterator[str]:
    if payload.get("voip_push") is True and Platform.IOS not in platforms:
        yield f"{path}.voip_push: VoIP pushes are iOS only, and IOS is not targeted."
    content = payload.get("content")
    locales = content.get("localized_content") if isinstance(content, Mapping) else None
    if not isinstance(locales, Mapping) or not locales:
        return
    where = f"{path}.content.localized_content"
    if "default" not in locales and "en" not in locales:
        yield f"{where}: neither 'default' nor 'en' is given; the reference advises one (§7)."
    seen_blocks: set[str] = set()
    for locale, blocks in locales.items():
        if isinstance(blocks, Mapping):
            seen_blocks.update(k for k in blocks if isinstance(k, str))
            yield from _block_warnings(f"{where}.{locale}", blocks, platforms)
    for block, platform in BLOCK_PLATFORMS.items():
        if platform in platforms and block not in seen_blocks:
            yield f"{where}: {platform} is targeted but no locale has a '{block}' block."


def _block_warnings(path: str, blocks: Mapping[str, Any], platforms: set[str]) -> Iterator[str]:
    for block, value in blocks.items():
        platform = BLOCK_PLATFORMS.get(block)
        if platform is None:
            yield f"{path}.{block}: not a block the reference lists; sent unchecked."
            continue
        if platform not in platforms:
            yield f"{path}.{block}: {platform} is not in platforms; this block is not used (§7)."
        if isinstance(value, Mapping):
            known = _KNOWN["android" if block == "android" else "block"]
            yield from _extra_keys(f"{path}.{block}", value, known)


def _email_warnings(path: str, email: Mapping[str, Any]) -> Iterator[str]:
    attachments = email.get("attachments")
    if not isinstance(attachments, list | tuple):
        return
    if len(attachments) > _V13_MAX_ATTACHMENTS:
        yield f"{path}.attachments: more than {_V13_MAX_ATTACHMENTS} files (the v1.3 limit)."
    for index, item in enumerate(attachments):
        content = item.get("content") if isinstance(item, Mapping) else None
        if isinstance(content, str) and len(content) > _V13_MAX_ATTACHMENT_CHARS:
            yield f"{path}.attachments.{index}.content: larger than 1 MB (the v1.3 limit)."


def _extra_keys(path: str, value: Mapping[str, Any], known: frozenset[str]) -> Iterator[str]:
    for key in value:
        if key not in known:
            yield f"{path}.{key}: not in the reference; sent unchecked."
