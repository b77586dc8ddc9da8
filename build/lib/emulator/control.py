"""The control API under `/_emulator/`: JSON in, JSON out, errors in the same envelope.

A route is a (name, method) pair in `ROUTES`; adding one never changes the others. Nothing here
is recorded in the request log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from emulator.exchange import Incoming, Reply, error_reply, json_reply
from emulator.faults import FaultError
from emulator.state import EmulatorState

PREFIX = "/_emulator/"
OK = {"ok": True}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


Route = Callable[[EmulatorState, Incoming], Any]


def handle_control(state: EmulatorState, req: Incoming) -> Reply:
    name = req.path[len(PREFIX) :].strip("/")
    methods = ROUTES.get(name)
    if methods is None:
        return error_reply(404, f"Not Found: {req.path}")
    route = methods.get(req.method)
    if route is None:
        return error_reply(405, "Method Not Allowed", {"Allow": ", ".join(methods)})
    try:
        return json_reply(200, route(state, req))
    except ControlError as exc:
        return error_reply(exc.status, exc.message)


def _json_object(req: Incoming) -> dict[str, Any]:
    try:
        doc = json.loads(req.body)
    except ValueError:
        raise ControlError(400, "request body: expected a JSON object") from None
    if not isinstance(doc, dict):
        raise ControlError(400, "request body: expected a JSON object")
    return doc


def _since(req: Incoming) -> int:
    values = parse_qs(req.query).get("since", ["0"])
    try:
        return int(values[-1])
    except ValueError:
        raise ControlError(400, f"since: expected an integer, got {values[-1]!r}") from None


def _health(state: EmulatorState, req: Incoming) -> Any:
    return OK


def _requests(state: EmulatorState, req: Incoming) -> Any:
    return {"requests": state.log.since(_since(req))}


def _clear_requests(state: EmulatorState, req: Incoming) -> Any:
    state.log.clear()
    return OK


def _reset(state: EmulatorState, req: Incoming) -> Any:
    state.reset()
    return OK


def _latency(state: EmulatorState, req: Incoming) -> Any:
    return {"latency_ms": state.settings.latency_ms}


def _set_latency(state: EmulatorState, req: Incoming) -> Any:
    doc = _json_object(req)
    if set(doc) != {"latency_ms"}:
        raise ControlError(400, 'request body: expected {"latency_ms": <number>}')
    return {"latency_ms": _update(state, doc).latency_ms}


def _settings(state: EmulatorState, req: Incoming) -> Any:
    return asdict(state.settings)


def _set_settings(state: EmulatorState, req: Incoming) -> Any:
    return asdict(_update(state, _json_object(req)))


def _update(state: EmulatorState, changes: dict[str, Any]) -> Any:
    try:
        return state.update_settings(changes)
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None


def _faults(state: EmulatorState, req: Incoming) -> Any:
    return {"faults": state.faults.describe(state.clock())}


def _add_faults(state: EmulatorState, req: Incoming) -> Any:
    specs = _json_object(req).get("faults")
    if not isinstance(specs, list):
        raise ControlError(400, 'faults: expected {"faults": [<fault object>, ...]}')
    now = state.clock()
    try:
        added = state.faults.add(specs, now)
    except FaultError as exc:
        raise ControlError(400, str(exc)) from None
    return {"faults": [f.describe(now) for f in added]}


def _clear_faults(state: EmulatorState, req: Incoming) -> Any:
    state.faults.clear()
    return OK


ROUTES: dict[str, dict[str, Route]] = {
    "health": {"GET": _health},
    "requests": {"GET": _requests, "DELETE": _clear_requests},
    "reset": {"POST": _reset},
    "latency": {"GET": _latency, "PUT": _set_latency},
    "settings": {"GET": _settings, "PUT": _set_settings},
    "faults": {"GET": _faults, "POST": _add_faults, "DELETE": _clear_faults},
}
