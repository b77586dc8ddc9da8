"""Hostile answers: the fault kinds that found H1, M2 and M8 in the worker's HTTP client.

Each is a response a careful client must survive, not trust:

* `drip`: the head at once, then the body one byte per `drip_interval_s`. No single recv waits
  long, so a per-recv read timeout never trips; only a wall-clock deadline ends it (H1).
* `gzip_bomb`: a few hundred KB on the wire, `inflated_mb` MB once gunzipped (M2).
* `huge_body`: `size_mb` MB, plainly (M2 without compression).
* `deep_nesting`: `depth` nested arrays; `json.loads` raises RecursionError on them (M8).

The padded bodies are an envelope with spaces after its `{` (JSON allows whitespace between
tokens), so a client that swallows one whole still parses a valid answer: a success envelope for
a 2xx status, the error envelope otherwise. Nothing large is ever held: big bodies are
`Stream`s of one reused block, and a bomb is compressed from a stream of spaces, once per size.
"""

from __future__ import annotations

import functools
import json
import struct
import threading
import zlib
from collections.abc import Iterator
from itertools import chain, repeat
from typing import Any

from emulator.exchange import JSON_TYPE, Answer, Reply, Stream, body_reply, envelope, with_defaults
from emulator.faults import Fault
from emulator.state import EmulatorState

MB = 1_000_000  # the fields say MB: 10^6 bytes, as the benchmarks count memory
PIECE_BYTES = 64 * 1024  # one send per piece: big enough for speed, small enough to hold
SPACE = b" "
# A gzip member header (RFC 1952): magic, deflate, no flags, no mtime, no extra flags, OS unknown.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_RAW_DEFLATE = -15  # zlib wbits: deflate blocks with no zlib or gzip wrapper
_BOMB_CACHE_SIZES = 4  # bombs of this many sizes kept (a 200 MB one is ~195 KB)
_bomb_lock = threading.Lock()  # two first requests for one size compress it once, not twice


def drip(state: EmulatorState, fault: Fault, normal: Answer) -> Reply:
    base = body_reply(fault.status, _body_or_envelope(state, fault), fault.headers)
    pieces = chain(repeat(SPACE, fault.pad_bytes), _bytes_of(base.body))
    length = fault.pad_bytes + len(base.body) if fault.framing == "length" else None
    paced = _paced(state, pieces, fault.drip_interval_s)
    return Reply(fault.status, headers=base.headers, stream=Stream(paced, length))


def gzip_bomb(state: EmulatorState, fault: Fault, normal: Answer) -> Reply:
    tail = _envelope_bytes(state, fault)[1:]  # what follows the `{` and the padding
    head_length = max(1, round(fault.inflated_mb * MB) - len(tail))
    headers = _headers({"Content-Encoding": "gzip"}, fault)
    return Reply(fault.status, gzip_ending_with(head_length, tail), headers)


def huge_body(state: EmulatorState, fault: Fault, normal: Answer) -> Reply:
    tail = _envelope_bytes(state, fault)[1:]
    length = max(round(fault.size_mb * MB), len(tail) + 1)
    pieces = chain([b"{"], repeated(SPACE, length - 1 - len(tail)), [tail])
    return Reply(fault.status, headers=_headers({}, fault), stream=Stream(pieces, length))


def deep_nesting(state: EmulatorState, fault: Fault, normal: Answer) -> Reply:
    pieces = chain(repeated(b"[", fault.depth), repeated(b"]", fault.depth))
    stream = Stream(pieces, 2 * fault.depth)
    return Reply(fault.status, headers=_headers({}, fault), stream=stream)


# --- bodies ---


def _body_or_envelope(state: EmulatorState, fault: Fault) -> Any:
    return _envelope(state, fault) if fault.body is None else fault.body


def _envelope(state: EmulatorState, fault: Fault) -> dict[str, Any]:
    """What the API would answer with this status: a fresh message code, or the error body."""
    if 200 <= fault.status < 300:
        return {"message_code": state.codes.next()}
    return envelope(fault.status, f"emulated fault: {fault.name}")


def _envelope_bytes(state: EmulatorState, fault: Fault) -> bytes:
    return json.dumps(_envelope(state, fault), separators=(",", ":")).encode()


def _headers(defaults: dict[str, str], fault: Fault) -> dict[str, str]:
    return with_defaults({"Content-Type": JSON_TYPE, **defaults}, fault.headers)


def repeated(byte: bytes, count: int) -> Iterator[bytes]:
    """`count` copies of one byte, in pieces of one reused block."""
    block = byte * PIECE_BYTES
    full, rest = divmod(count, PIECE_BYTES)
    yield from repeat(block, full)
    if rest:
        yield block[:rest]


def _bytes_of(data: bytes) -> Iterator[bytes]:
    return (data[i : i + 1] for i in range(len(data)))


def _paced(state: EmulatorState, pieces: Iterator[bytes], interval_s: float) -> Iterator[bytes]:
    # The wait is after each piece: the request log pulls one piece ahead (it records the status
    # before the last piece goes out), so the k-th byte leaves k - 1 intervals or more after the
    # first, which may go out with the head.
    for piece in pieces:
        yield piece
        if state.stopping.wait(interval_s):  # stop() must not wait for a drip to end
            raise ConnectionAbortedError("emulator stopping")


# --- the bomb: a cached deflate of `{` + spaces, then a per-request tail ---


def gzip_ending_with(head_length: int, tail: bytes) -> bytes:
    """A gzip member inflating to `{`, `head_length - 1` spaces, then `tail`.

    The padding is compressed once per size and cached; only the tail (a fresh message code) is
    compressed per request. Splicing works because the cached part ends with a full flush: it is
    byte-aligned and nothing after it refers back into it. The CRC-32 is streamed, so the
    cached part's CRC continues over the tail.
    """
    with _bomb_lock:
        deflated_head, head_crc = deflated_padding(head_length)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, _RAW_DEFLATE)
    deflated_tail = squeeze.compress(tail) + squeeze.flush()  # flush(): the final block
    size = (head_length + len(tail)) & 0xFFFFFFFF  # ISIZE is the length modulo 2^32
    trailer = struct.pack("<II", zlib.crc32(tail, head_crc), size)
    return _GZIP_HEADER + deflated_head + deflated_tail + trailer


@functools.lru_cache(maxsize=_BOMB_CACHE_SIZES)
def deflated_padding(length: int) -> tuple[bytes, int]:
    """`{` and `length - 1` spaces as raw deflate blocks (no final block), and their CRC-32.

    Fed to zlib a block at a time: 200 MB of spaces is never in memory (~0.45 s, ~195 KB out).
    """
    squeeze = zlib.compressobj(9, zlib.DEFLATED, _RAW_DEFLATE)
    out, crc = [squeeze.compress(b"{")], zlib.crc32(b"{")
    for block in repeated(SPACE, length - 1):
        out.append(squeeze.compress(block))
        crc = zlib.crc32(block, crc)
    out.append(squeeze.flush(zlib.Z_FULL_FLUSH))
    return b"".join(out), crc
