"""The API side: `POST /messaging/v2/notify`, with latency and scripted faults.

Order for a notify request: record → latency → first applicable fault (or the normal path) →
complete the record (for a streamed answer: as its last piece goes out). Faults come before the
auth and body checks on purpose: they stand for the infrastructure in front of the API (load
balancer, gateway), which answers whatever the request.
The normal path is lenient beyond what spec §2 / §13 demand; the client-side schema is strict.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from emulator import auth, hostile
from emulator.exchange import (
    Answer,
    Incoming,
    Reply,
    Stream,
    body_reply,
    envelope,
    error_reply,
    json_reply,
)
from emulator.faults import Fault
from emulator.recording import RequestLog, RequestRecord, record_headers
from emulator.state import EmulatorState

NOTIFY_PATH = "/messaging/v2/notify"
KINDS = ("segment", "transactional")
ID_LISTS = ("users", "hwids", "push_tokens")  # transactional targets, spec §4
GARBAGE_BODY = "<html><body>oops</body></html>"

_NOT_JSON = object()


def handle_api(state: EmulatorState, req: Incoming) -> Reply:
    """Answer any request outside `/_emulator/`; every one is recorded."""
    check = auth.check(req.header("Authorization"), state.token)
    doc = _parse(req.body)
    record = state.log.open(
        time=req.arrived,
        method=req.method,
        path=req.path,
        headers=record_headers(req.headers, check),
        authorized=check.authorized,
        token_ok=check.token_ok,
        token_sha256=check.token_sha256,
        body=_recorded_body(state, req.body, doc),
        peer=req.peer or None,
    )
    reply = _route(state, req, check, doc, record)
    if reply.stream is not None:
        return _finished_at_first_piece(state.log, record, reply, reply.stream)
    state.log.finish(record, reply.status)
    return reply


def _finished_at_first_piece(
    log: RequestLog, record: RequestRecord, reply: Reply, stream: Stream
) -> Reply:
    """A streamed answer is recorded as its status line and headers go out, before its body:
    the endpoint has answered (with a 2xx, it created the message) however long the body
    then takes, or whether the client stays to read it."""
    pieces = _calling_before_first(stream.pieces, lambda: log.finish(record, reply.status))
    return replace(reply, stream=replace(stream, pieces=pieces))


def _calling_before_first(pieces: Iterator[bytes], call: Callable[[], None]) -> Iterator[bytes]:
    call()
    yield from pieces


def _route(
    state: EmulatorState, req: Incoming, check: auth.AuthCheck, doc: Any, record: RequestRecord
) -> Reply:
    if req.path != NOTIFY_PATH:
        return error_reply(404, f"Not Found: {req.path}")
    if req.method != "POST":
        # gRPC-Gateway answers a known path with the wrong method as a routing error.
        return error_reply(405, "Method Not Allowed", {"Allow": "POST"})
    state.pause(state.settings.latency_ms / 1000)
    fault = state.faults.pick(_target(doc), state.clock())

    def normal() -> Reply:
        return _normal(state, check, doc)

    if fault is None:
        return normal()
    state.log.note_fault(record, fault.name)
    state.pause(fault.delay_s)
    return FAULT_ACTIONS[fault.kind](state, fault, normal)


# --- the normal path ---


def _normal(state: EmulatorState, check: auth.AuthCheck, doc: Any) -> Reply:
    if not check.authorized:
        return error_reply(401, _auth_message(check, state.token))
    problem = _problem(doc)
    if problem:
        return error_reply(400, problem)
    return json_reply(200, _success(state, doc))


def _auth_message(check: auth.AuthCheck, token: str | None) -> str:
    # Never quote the presented value: it may be a real token sent to the wrong place.
    if check.redacted is None:
        return "missing Authorization header; expected 'Authorization: Token <API token>'"
    if token and check.redacted == f"{auth.SCHEME} ***":
        return "invalid API token"
    return "malformed Authorization header; expected 'Authorization: Token <API token>'"


def _problem(doc: Any) -> str | None:
    """Why the body is not a NotifyRequest, in the words of a protojson parser; None if fine."""
    if doc is _NOT_JSON:
        return "invalid JSON in request body"
    if not isinstance(doc, dict):
        return f"request body: expected a JSON object, got {_json_type(doc)}"
    present = [k for k in KINDS if doc.get(k) is not None]  # protojson: null means unset
    if len(present) != 1:
        got = "both" if present else "neither"
        return f"exactly one of segment, transactional must be set; got {got}"
    if not isinstance(doc[present[0]], dict):
        return f"{present[0]}: expected an object, got {_json_type(doc[present[0]])}"
    return None


def _success(state: EmulatorState, doc: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"message_code": state.codes.next()}
    kind_obj = next(doc[k] for k in KINDS if doc.get(k) is not None)
    # §4 puts the flag in `transactional`; the top level is accepted too, to be lenient.
    if kind_obj.get("return_unknown_identifiers") is True or doc.get("return_unknown_identifiers"):
        body["unknown_identifiers"] = _unknown(state, kind_obj)
    return body


def _unknown(state: EmulatorState, kind_obj: dict[str, Any]) -> Any:
    prefix = state.settings.unknown_prefix
    found = {
        name: [i for i in _ids(kind_obj.get(name)) if i.startswith(prefix)] for name in ID_LISTS
    }
    if state.settings.unknown_identifiers_shape == "list":
        return [i for name in ID_LISTS for i in found[name]]
    return found


def _ids(value: Any) -> list[str]:
    """The identifiers of a `{"list": [...]}` wrapper (spec §4), or of a bare list (v1.3 style)."""
    items = value.get("list") if isinstance(value, dict) else value
    return [i for i in items if isinstance(i, str)] if isinstance(items, list) else []


# --- fault actions: kind -> what to answer; each gets the normal path to fall back on ---


def _respond(state: EmulatorState, fault: Fault, normal: Answer) -> Reply:
    body = fault.body
    if body is None:
        body = envelope(fault.status, f"emulated fault: {fault.name}")
    return body_reply(fault.status, body, fault.headers)


def _hang(state: EmulatorState, fault: Fault, normal: Answer) -> Reply:
    state.pause(fault.hang_s)  # cut short on shutdown, so stop() never waits for it
    if fault.then == "close":
        return Reply(None)
    return _respond(state, fault, normal) if fault.then == "respond" else normal()


def _close(state: EmulatorState, fault: Fault, normal: Answer) -> Reply:
    return Reply(None)  # the body was already read: the request reached the server


def _garbage(state: EmulatorState, fault: Fault, normal: Answer) -> Reply:
    headers = {"Content-Type": "text/html; charset=utf-8", **fault.headers}
    return body_reply(fault.status, fault.body if fault.body is not None else GARBAGE_BODY, headers)


def _empty(state: EmulatorState, fault: Fault, normal: Answer) -> Reply:
    # Claims JSON and sends nothing: the failure a client's JSON decoding must survive.
    headers = {"Content-Type": "application/json", **fault.headers}
    return Reply(fault.status, b"", headers)


FAULT_ACTIONS: dict[str, Callable[[EmulatorState, Fault, Answer], Reply]] = {
    "respond": _respond,
    "hang": _hang,
    "close": _close,
    "garbage": _garbage,
    "empty": _empty,
    "drip": hostile.drip,
    "gzip_bomb": hostile.gzip_bomb,
    "huge_body": hostile.huge_body,
    "deep_nesting": hostile.deep_nesting,
}


# --- helpers ---


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        return _NOT_JSON


def _recorded_body(state: EmulatorState, raw: bytes, doc: Any) -> Any:
    if not state.record_bodies:
        return None
    # Not JSON: keep the text, so a test can see what was sent.
    return raw.decode("utf-8", errors="replace") if doc is _NOT_JSON else doc


def _target(doc: Any) -> dict[str, str | None]:
    """What a fault's `match` is compared with."""
    if not isinstance(doc, dict):
        return {}
    kinds = [k for k in KINDS if isinstance(doc.get(k), dict)]
    if len(kinds) != 1:
        return {}
    application = doc[kinds[0]].get("application")
    return {"kind": kinds[0], "application": application if isinstance(application, str) else None}


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
