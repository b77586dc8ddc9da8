"""A local stand-in for Pushwoosh `POST /messaging/v2/notify`, with scripted faults.

Used by the demo, the integration and fault-injection tests and the benchmarks. The server is
stdlib only and imports neither `producers` nor `worker`; `EmulatorClient` uses `requests`.

Running it
==========

    python -m emulator [--host 127.0.0.1] [--port 8080] [--token TOKEN] [--latency-ms 0]
                       [--no-record-bodies] [--fault '{"kind": "respond", "status": 503}' ...]
                       [--also-listen ADDR ...]

prints ``emulator listening on http://HOST:PORT`` once ready (``--port 0`` picks a free port and
prints the real one) and exits 0 on SIGINT/SIGTERM. The token may also come from
``EMULATOR_TOKEN``. ``--also-listen`` (``also_listen=`` below) adds addresses on the same port,
all served by the one emulator (the fault suite's simulated hosts each reach it at their own).
In-process::

    with EmulatorServer(token="t") as emu:          # port 0 by default
        client = EmulatorClient(emu.url)
        client.script({"kind": "respond", "status": 429, "headers": {"Retry-After": "2"}})
        ...                                          # POST f"{emu.url}/messaging/v2/notify"
        records = client.wait_for_requests(1)

``serve(host, port, *, token, latency_ms, record_bodies, faults, also_listen)`` is the blocking
form (main thread only: it owns the signal handlers). ``emulator.process.EmulatorProcess(*args)``
runs ``python -m emulator --port 0`` as a child process (start/stop/url, a context manager) when
the caller must not share a GIL with the server. ``python -m emulator.bench --requests 5000
--threads 8 [--processes 2]`` prints req/s.

``EmulatorClient(base_url)``: ``requests(since=0)``, ``wait_for_requests(n, timeout=30,
since=0)``, ``clear()``, ``reset()``, ``script(*faults)``, ``faults()``, ``clear_faults()``,
``set_latency(ms)``, ``settings()``, ``configure(**settings)``, ``health()``,
``wait_healthy(timeout)``, ``close()``. A refused call raises ``EmulatorError`` with the
emulator's message.

The server speaks HTTP/1.1 with keep-alive and never closes an idle connection itself (closing
one races with a client reusing it, which a worker would report as an ambiguous failure).

The notify endpoint
===================

``POST /messaging/v2/notify`` answers, in this order:

1. Every request outside ``/_emulator/`` is **recorded** on arrival (see below).
2. The configured **latency** is added (notify path only).
3. The first scripted **fault** that applies is used (before auth and validation: faults stand for
   the infrastructure in front of the API, which answers whatever the request).
4. Otherwise the normal path:

   * ``Authorization: Token <t>`` (scheme spelled exactly ``Token``). With a configured token,
     ``<t>`` must equal it; without one any non-empty token passes. Else **401**
     ``{"code": 16, "message": ..., "details": []}``. The token is never logged or echoed.
   * The body must be a JSON object with exactly one of ``segment`` / ``transactional`` (a
     ``null`` value counts as absent), and that value an object. Else **400**, ``code`` 3.
     Nothing else is checked: the server side is lenient; our client-side schema is strict.
   * **200** ``{"message_code": "XXXX-XXXXXXXX-XXXXXXXX"}`` (v1.3-style, uppercase hex, unique
     per request). With ``return_unknown_identifiers: true`` (in the kind object, or at the top
     level) it adds ``unknown_identifiers``: the ``users`` / ``hwids`` / ``push_tokens`` entries
     (``{"list": [...]}`` or a bare list) that start with the ``unknown_prefix`` setting (default
     ``"unknown"``), shaped per ``unknown_identifiers_shape``: ``"object"`` (default)
     ``{"users": [...], "hwids": [...], "push_tokens": [...]}`` or ``"list"`` (flat) — spec §12.

Any other path: **404**, ``code`` 5. The notify path with another method: **405**, ``code`` 12
(UNIMPLEMENTED, what gRPC-Gateway uses for this routing error), header ``Allow: POST``.
Errors always use the gRPC-Gateway envelope.

Recorded requests
=================

One JSON object per request, in arrival order::

    {"seq": 1,                      # 1-based; never reset, so a `since` cursor stays valid
     "time": 1767000000.123,        # time.time() at arrival
     "method": "POST", "path": "/messaging/v2/notify",
     "headers": {"authorization": "Token ***", "content-type": "application/json", ...},
     "authorized": true,            # passed the auth check
     "token_ok": true,              # == the configured token; null when none is configured
     "token_sha256": null,          # no token configured: sha256 hex of the presented token
     "body": {...},                 # parsed JSON, else the text; null with --no-record-bodies
     "status": 200,                 # null while hanging, or when the connection was closed
     "fault": null,                 # the applied fault's name (default: its kind)
     "peer": "127.0.0.1"}           # the client's IP address

Header names are lower-case; the Authorization value is replaced by ``<scheme> ***`` (``***``
alone for an unusual scheme). The log keeps the latest 100,000 records.

Control API (JSON; errors in the same envelope; never recorded)
===============================================================

=======  ========================  ==============================================================
GET      /_emulator/health         ``{"ok": true}``
GET      /_emulator/requests       ``?since=N`` → ``{"requests": [record, ...]}`` (seq > N)
DELETE   /_emulator/requests       empty the log → ``{"ok": true}``
POST     /_emulator/reset          empty log, no faults, start-up latency and settings (faults
                                   given at start-up are not re-armed)
GET/PUT  /_emulator/latency        ``{"latency_ms": 50}``
GET/PUT  /_emulator/settings       partial update of ``latency_ms``, ``unknown_identifiers_shape``
                                   (``"object"`` | ``"list"``), ``unknown_prefix``; returns all
POST     /_emulator/faults         ``{"faults": [fault, ...]}`` appends, all or none (400 names
                                   the bad field, e.g. ``faults[0].status``); returns them with ids
GET      /_emulator/faults         ``{"faults": [...]}``: active ones, each as scripted plus
                                   ``id``, ``remaining`` (null: unlimited), ``expires_in_s``
DELETE   /_emulator/faults         drop all faults
=======  ========================  ==============================================================

Fault object
============

Only ``kind`` is required; unknown fields are rejected (so a typo fails loudly)::

    {"kind": "respond" | "hang" | "close" | "garbage" | "empty",
     "name": "lb-503",            # recorded as the request's "fault" (default: kind)
     "status": 503,               # default 503 for respond/hang, 200 for garbage/empty
     "body": {...} | "text",      # str sent as is (text/plain), else JSON
     "headers": {"Retry-After": "2"},
     "count": 3,                  # applies to this many requests, then removed; omit: unlimited
     "duration_s": 10,            # applies only this long after being scripted
     "probability": 0.3, "seed": 7,   # applies at random, reproducibly with a seed
     "match": {"application": "ABCDE-12345", "kind": "transactional"},
     "hang_s": 30,                # hang only: how long to hold the request (default 30)
     "then": "normal" | "close" | "respond",   # hang only: afterwards (default normal)
     "delay_s": 0.5}              # any kind: extra wait before acting

* ``respond`` – answer ``status`` / ``body`` / ``headers``. The default body is the envelope with
  the matching gRPC code (400→3, 401→16, 403→7, 404→5, 409→6, 429→8, 500→13, 503→14, 504→4).
* ``hang`` – hold the request ``hang_s`` (to trip the client's read timeout), then run the normal
  path (a 200 the client never sees: the message *was* created), close, or ``respond``.
* ``close`` – read the body, then close the connection without a response (an ambiguous outcome).
* ``garbage`` – ``status`` with a non-JSON body (default ``<html><body>oops</body></html>``).
* ``empty`` – ``status`` with an empty body, ``Content-Type: application/json``.

Faults are checked in the order scripted; the first that applies (match, not expired, then the
probability roll) is used and its count spent; an exhausted or expired fault is removed. No fault:
the normal path. A new kind is one entry in ``faults.KINDS`` plus one in
``notify.FAULT_ACTIONS``; callers are unaffected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.server import EmulatorServer, serve

if TYPE_CHECKING:
    from emulator.client import EmulatorClient, EmulatorError

__all__ = ["EmulatorClient", "EmulatorError", "EmulatorServer", "serve"]


def __getattr__(name: str) -> Any:
    # Lazy: the server process never imports `requests`.
    if name in ("EmulatorClient", "EmulatorError"):
        from emulator import client

        return getattr(client, name)
    raise AttributeError(f"module 'emulator' has no attribute {name!r}")
