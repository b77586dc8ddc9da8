"""A local stand-in for Pushwoosh `POST /messaging/v2/notify`, with scripted faults.

Used by the demo, the integration and fault-injection tests and the benchmarks. The server is
stdlib only and imports neither `producers` nor `worker`; `EmulatorClient` uses `requests`.

Running it
==========

    python -m emulator [--host 127.0.0.1] [--port 8080] [--token TOKEN] [--latency-ms 0]
                       [--no-record-bodies] [--max-connections 1024] [--idle-timeout-s 300]
                       [--fault '{"kind": "respond", "status": 503}' ...] [--also-listen ADDR ...]

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

``EmulatorServer(host, port, *, token, latency_ms, record_bodies, faults, max_connections,
idle_timeout_s, also_listen)`` takes the same options as the command line; ``emu.open_connections``
counts the connections being served. ``serve(...)`` (same arguments) is the blocking form (main
thread only: it owns the signal handlers). ``emulator.process.EmulatorProcess(*cli_args)`` runs
``python -m emulator --port 0`` as a child process (start/stop/url, a context manager) when the
caller must not share a GIL with the server. ``python -m emulator.bench --requests 5000
--threads 8 [--processes 2]`` prints req/s.

``EmulatorClient(base_url)``: ``requests(since=0)``, ``wait_for_requests(n, timeout=30,
since=0)``, ``clear()``, ``reset()``, ``script(*faults)``, ``faults()``, ``clear_faults()``,
``set_latency(ms)``, ``settings()``, ``configure(**settings)``, ``health()``,
``wait_healthy(timeout)``, ``close()``. A refused call raises ``EmulatorError`` with the
emulator's message.

The server speaks HTTP/1.1 with keep-alive. Its threads are bounded (review L8):

* ``--max-connections`` (default 1,024; each open connection is one thread): past it, a new
  connection is answered **503** (the envelope, ``code`` 14, ``Connection: close``) without its
  request being read or recorded, and closed a second later. One line on stderr says so.
* ``--idle-timeout-s`` (default 300): a connection closes once a read from its client, or a
  send to it, makes no progress for that long (an idle keep-alive connection, a stalled upload,
  a client that stopped reading a ``huge_body``), so an abandoned client cannot hold a thread
  for ever. Scripted waits (``hang``, ``drip``) are not reads and do not count. Long on purpose:
  closing an idle connection races with a client reusing it at that instant (an ambiguous
  failure for a worker), and a pool that comes back later sees the close before reusing it.
* A request body is framed strictly: a chunk size must be hex digits (``-1``, ``+5``, ``0x5``
  are **400**, and the connection closes); at most 32 MiB.

A dev-only tool
---------------

The control API has **no authentication** and serves every recorded body (targets, content):
anyone who reaches the port can read and script it. The tests rely on that, so it stays; the
emulator binds ``127.0.0.1`` by default. Bind another address only on a private network (the
compose file uses its internal one), never where untrusted clients can connect.

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

A streamed answer (``drip``, ``huge_body``, ``deep_nesting``) gets its ``status`` as its status
line and headers go out, however long its body then takes or whether the client stays to read
it: the endpoint has answered (with a 2xx, it created the message).

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

Only ``kind`` is required; unknown fields are rejected (so a typo fails loudly), and so is a
field of another kind (``size_mb`` on a ``gzip_bomb``)::

    {"kind": "respond" | "hang" | "close" | "garbage" | "empty"
             | "drip" | "gzip_bomb" | "huge_body" | "deep_nesting",
     "name": "lb-503",            # recorded as the request's "fault" (default: kind)
     "status": 503,               # default 503 for respond/hang, 200 for every other kind
     "body": {...} | "text",      # respond, hang, garbage, drip: str sent as is (text/plain),
                                  # else JSON
     "headers": {"Retry-After": "2"},   # values latin-1 (see "Hostile headers")
     "count": 3,                  # applies to this many requests, then removed; omit: unlimited
     "duration_s": 10,            # applies only this long after being scripted
     "probability": 0.3, "seed": 7,   # applies at random, reproducibly with a seed
     "match": {"application": "ABCDE-12345", "kind": "transactional"},
     "delay_s": 0.5,              # any kind: extra wait before acting
     "hang_s": 30,                # hang: how long to hold the request (default 30)
     "then": "normal" | "close" | "respond",   # hang: afterwards (default normal)
     "drip_interval_s": 1.0,      # drip: seconds between body bytes (0.001-3600, default 1.0)
     "pad_bytes": 0,              # drip: spaces sent before the body (0-10^9, default 0)
     "framing": "length" | "chunked",   # drip: Content-Length of the whole body (default) or
                                        # chunked, one byte per chunk
     "inflated_mb": 200,          # gzip_bomb: size once gunzipped (0.01-4096, default 200)
     "size_mb": 50,               # huge_body: body size (0.001-10240, default 50)
     "depth": 200000}             # deep_nesting: nested arrays (1-10^7, default 200000)

MB means 10^6 bytes. The padded bodies below are an envelope with spaces after its ``{`` (JSON
allows whitespace there), so a client that swallows one whole still parses a valid answer:
for a 2xx ``{"message_code": ...}`` (a fresh code), otherwise the error envelope.

* ``respond`` – answer ``status`` / ``body`` / ``headers``. The default body is the envelope with
  the matching gRPC code (400→3, 401→16, 403→7, 404→5, 409→6, 429→8, 500→13, 503→14, 504→4).
* ``hang`` – hold the request ``hang_s`` (to trip the client's read timeout), then run the normal
  path (a 200 the client never sees: the message *was* created), close, or ``respond``.
* ``close`` – read the body, then close the connection without a response (an ambiguous outcome).
* ``garbage`` – ``status`` with a non-JSON body (default ``<html><body>oops</body></html>``).
* ``empty`` – ``status`` with an empty body, ``Content-Type: application/json``.
* ``drip`` – the status line and headers at once, then ``pad_bytes`` spaces and the body (default:
  the envelope for ``status``) one byte every ``drip_interval_s``: the k-th byte leaves k
  intervals after the head. No recv waits longer than an interval, so a per-recv read timeout
  never trips; the answer lasts ``(pad_bytes + len(body)) × drip_interval_s`` (H1: with
  ``pad_bytes`` 10^9 it lasts for ever). A client that waits it out sees a valid 2xx. The drip
  stops at the first failed send once the client has closed (within about two intervals), and
  at once when the emulator stops.
* ``gzip_bomb`` – ``Content-Encoding: gzip`` (and ``Content-Type: application/json``) with a
  small body that inflates to exactly ``inflated_mb`` MB of padded envelope (M2): 200 MB is about
  195 KB on the wire. The padding is compressed once per size, from a stream of spaces, and kept
  (about 0.45 s for 200 MB on first use; four sizes are cached); only the tail with the message
  code is compressed per request.
* ``huge_body`` – ``size_mb`` MB of padded envelope with its Content-Length, streamed in 64 KiB
  pieces, never held whole.
* ``deep_nesting`` – ``[[[...]]]``, ``depth`` arrays deep (``2 × depth`` bytes, JSON type):
  ``json.loads`` raises RecursionError on it (M8), ``requests``' ``.json()`` too.

Faults are checked in the order scripted; the first that applies (match, not expired, then the
probability roll) is used and its count spent; an exhausted or expired fault is removed. No fault:
the normal path. A new kind is one entry in ``faults.KINDS`` (and ``faults.DEFAULT_STATUS``) plus
one in ``notify.FAULT_ACTIONS``; callers are unaffected.

Hostile headers
===============

``headers`` go out exactly as scripted, encoded as latin-1 as ``http.client`` does (a value
outside latin-1 is refused when scripted; framing headers are the server's). So an absurd
``Retry-After`` (review M7) is a ``respond`` away::

    {"kind": "respond", "status": 429, "headers": {"Retry-After": "²"}}          # byte 0xB2
    {"kind": "respond", "status": 429, "headers": {"Retry-After": "31536000"}}   # a year
    {"kind": "respond", "status": 429, "headers": {"Retry-After": "-5"}}
    {"kind": "respond", "status": 503,
     "headers": {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}}               # an HTTP-date
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
