"""The hostile fault kinds (drip, gzip_bomb, huge_body, deep_nesting) and hostile headers, each
received over a real socket by the stdlib: what a client gets is what goes on the wire."""

from __future__ import annotations

import http.client
import json
import re
import time
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from emulator import EmulatorClient, EmulatorError, EmulatorServer, hostile
from tests.emulator import wire
from tests.emulator.conftest import NOTIFY_PATH, TOKEN

MB = 1_000_000


def _post(emu: EmulatorServer, timeout_s: float = wire.READ_TIMEOUT_S) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=timeout_s)
    headers = {"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"}
    conn.request("POST", NOTIFY_PATH, body=wire.BODY, headers=headers)
    return conn.getresponse()


def _pieces(resp: http.client.HTTPResponse, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := resp.read(size):
        yield chunk


def _success_envelope(first: bytes, last: bytes, nonspace: int) -> dict:
    """A padded success body is `{`, spaces, then the envelope's tail (which has no spaces)."""
    assert first == b"{"
    assert nonspace == 1 + len(last.lstrip(b" ")), "non-space bytes inside the padding"
    return dict(json.loads(b"{" + last))


def _inflated(compressed: bytes) -> Iterator[bytes]:
    """Gunzip 1 MiB at a time, never the whole at once; fails unless the CRC and size check."""
    inflate = zlib.decompressobj(wbits=31)
    data = compressed
    while data:
        yield inflate.decompress(data, 1 << 20)
        data = inflate.unconsumed_tail
    yield inflate.flush()
    assert inflate.eof, "the gzip stream did not end"


def _survey(pieces: Iterator[bytes]) -> tuple[int, int, bytes, bytes]:
    """Total and non-space byte counts, first byte and last 200 bytes, holding one piece."""
    total, nonspace, first, last = 0, 0, b"", b""
    for piece in pieces:
        first, last = first or piece[:1], (last + piece)[-200:]
        total, nonspace = total + len(piece), nonspace + len(piece) - piece.count(b" ")
    return total, nonspace, first, last


# --- drip ---


def test_a_drip_outlasts_a_per_recv_timeout_that_never_trips(emulator, control):
    control.script({"kind": "drip", "drip_interval_s": 0.05})
    started = time.monotonic()
    resp = _post(emulator, timeout_s=1.0)  # 20 intervals: no single recv waits that long
    body = b"".join(iter(lambda: resp.read(1), b""))
    elapsed = time.monotonic() - started
    assert resp.status == 200
    assert len(body) == int(resp.getheader("Content-Length", "0")) == 41
    # One byte per interval after the head: the whole body takes at least 40 of them.
    assert elapsed >= 40 * 0.05 - 0.01, f"sent in a burst: {elapsed:.2f} s"
    assert set(json.loads(body)) == {"message_code"}  # waited out, it is a valid 2xx
    [record] = control.requests()
    assert (record["fault"], record["status"]) == ("drip", 200)


def test_a_drip_sends_bytes_one_at_a_time_as_the_count_grows(emulator, control):
    control.script({"kind": "drip", "drip_interval_s": 0.05, "pad_bytes": 1000})
    with wire.connect(emulator.port) as sock:
        started = time.monotonic()
        sock.sendall(wire.notify_request())
        head, got = wire.read_head(sock)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert wire.header(head, "Content-Length") == str(1000 + 41)
        counts = []
        for _ in range(5):  # each recv returns once at least one new byte is there
            got += sock.recv(65536)
            counts.append(len(got))
        elapsed = time.monotonic() - started
    # N bytes one per interval need N - 1 intervals after the first (which may come with
    # the head, when the head's read is late); a burst would bring all 1041 at once.
    assert elapsed >= (counts[-1] - 1) * 0.05 - 0.01, f"{counts} bytes in {elapsed:.2f} s"
    assert counts[-1] < 40, f"{counts} bytes in {elapsed:.2f} s: not one at a time"
    assert got.strip(b" ") == b""  # the padding comes first


def test_a_chunked_drip_sends_one_byte_per_chunk(emulator, control):
    control.script({"kind": "drip", "drip_interval_s": 0.01, "framing": "chunked"})
    with wire.connect(emulator.port) as sock:
        sock.sendall(wire.notify_request())
        head, rest = wire.read_head(sock)
        while not rest.endswith(b"0\r\n\r\n"):
            rest = wire.read_at_least(sock, rest, len(rest) + 1, deadline_s=10)
    assert wire.header(head, "Transfer-Encoding") == "chunked"
    assert wire.header(head, "Content-Length") is None
    frames = rest[: -len(b"0\r\n\r\n")]
    assert re.fullmatch(rb"(1\r\n.\r\n)+", frames, re.DOTALL)
    body = frames[3::6]  # the one byte of each `1\r\nX\r\n`
    assert set(json.loads(body)) == {"message_code"}


def test_closing_the_client_ends_the_drip(emulator, control):
    control.script({"kind": "drip", "drip_interval_s": 0.05, "pad_bytes": 10**9})  # for ever
    sock = wire.connect(emulator.port)
    sock.sendall(wire.notify_request())
    _, got = wire.read_head(sock)
    wire.read_at_least(sock, got, 2, deadline_s=10)
    dripping = emulator.open_connections  # this one and the control client's
    sock.close()
    wire.wait_until(lambda: emulator.open_connections == dripping - 1, "the drip's thread to end")
    [record] = control.requests()
    # recorded as answered from its head on: a 200 means the message was created
    assert (record["fault"], record["status"]) == ("drip", 200)


def test_a_drip_with_an_error_status_drips_the_error_envelope(emulator, control):
    control.script({"kind": "drip", "drip_interval_s": 0.001, "status": 503})
    resp = _post(emulator)
    assert (resp.status, json.loads(resp.read())["code"]) == (503, 14)


# --- gzip_bomb ---


def test_a_gzip_bomb_is_small_on_the_wire_and_inflates_to_200_mb(emulator, control):
    control.script({"kind": "gzip_bomb"})
    resp = _post(emulator)
    compressed = resp.read()  # http.client never decodes: these are the bytes on the wire
    assert (resp.status, resp.getheader("Content-Encoding")) == (200, "gzip")
    assert len(compressed) == int(resp.getheader("Content-Length", "0")) < MB
    total, nonspace, first, last = _survey(_inflated(compressed))
    assert total == 200 * MB
    assert set(_success_envelope(first, last, nonspace)) == {"message_code"}


def test_a_gzip_bomb_is_compressed_once_per_size(emulator, control):
    hostile.deflated_padding.cache_clear()
    control.script({"kind": "gzip_bomb", "inflated_mb": 1})
    bodies = [_post(emulator).read() for _ in range(3)]
    assert hostile.deflated_padding.cache_info().misses == 1
    assert len({body[-40:] for body in bodies}) == 3  # a fresh message code in each


def test_building_a_bomb_never_holds_its_inflated_size():
    hostile.deflated_padding.cache_clear()
    tracemalloc.start()
    try:
        body = hostile.gzip_ending_with(20 * MB, b'"message_code":"X"}')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(zlib.decompress(body, wbits=31)) == 20 * MB + 19
    assert peak < 4 * MB, f"peak {peak / MB:.1f} MB while building a 20 MB bomb"


# --- huge_body ---


def test_a_huge_body_streams_50_mb_by_default(emulator, control):
    control.script({"kind": "huge_body"})
    resp = _post(emulator)
    total, nonspace, first, last = _survey(_pieces(resp))
    assert resp.status == 200
    assert total == int(resp.getheader("Content-Length", "0")) == 50 * MB
    assert set(_success_envelope(first, last, nonspace)) == {"message_code"}
    wire.wait_until(lambda: control.requests()[0]["status"] == 200, "the record's status")


def test_a_huge_body_is_never_held_whole_by_the_emulator(emulator, control):
    control.script({"kind": "huge_body", "size_mb": 20, "status": 502})
    tracemalloc.start()  # traces the emulator's handler thread too: it runs in this process
    try:
        resp = _post(emulator)
        total = sum(len(chunk) for chunk in _pieces(resp, 1 << 16))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (resp.status, total) == (502, 20 * MB)
    assert peak < 4 * MB, f"peak {peak / MB:.1f} MB while sending 20 MB"


# --- deep_nesting ---


def test_deep_nesting_makes_json_loads_raise_recursion_error(notify, control):
    control.script({"kind": "deep_nesting"})
    resp = notify()
    assert resp.status_code == 200
    assert resp.content == b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(RecursionError):
        json.loads(resp.content)
    with pytest.raises(RecursionError):
        resp.json()


def test_deep_nesting_takes_its_depth(notify, control):
    control.script({"kind": "deep_nesting", "depth": 3, "status": 201})
    resp = notify()
    assert (resp.status_code, resp.json()) == (201, [[[]]])
    assert resp.headers["Content-Type"] == "application/json"


# --- hostile headers ---


@pytest.mark.parametrize(
    "value",
    ["²", "31536000", "-5", "Wed, 21 Oct 2026 07:28:00 GMT"],
    ids=["superscript-two", "a-year", "negative", "http-date"],
)
def test_a_hostile_retry_after_goes_out_exactly_as_scripted(emulator, control, value):
    control.script({"kind": "respond", "status": 429, "headers": {"Retry-After": value}})
    with wire.connect(emulator.port) as sock:
        sock.sendall(wire.notify_request())
        head, _ = wire.read_response(sock)
    assert f"\r\nRetry-After: {value}\r\n".encode("latin-1") in head  # "²" is the one byte 0xB2
    resp = _post(emulator)
    assert (resp.status, resp.getheader("Retry-After")) == (429, value)


def test_a_header_value_outside_latin_1_is_refused_when_scripted(control):
    with pytest.raises(EmulatorError, match=r"faults\[0\]\.headers"):
        control.script({"kind": "respond", "headers": {"Retry-After": "€"}})


def test_stop_is_not_held_up_by_a_drip():
    with EmulatorServer(token=TOKEN) as emu, EmulatorClient(emu.url) as client:
        client.script({"kind": "drip", "drip_interval_s": 60})
        sock = wire.connect(emu.port)
        sock.sendall(wire.notify_request())
        _, early = wire.read_head(sock)
        started = time.monotonic()
    assert time.monotonic() - started < 5
    with sock:
        # The emulator closed it and did not drip on: at most the first byte, which may leave
        # with the head, came before the close.
        assert len(early + wire.read_to_eof(sock)) <= 1
