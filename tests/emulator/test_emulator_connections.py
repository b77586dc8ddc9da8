"""What bounds the emulator's threads and reads (review L8): the connection cap, the idle timeout,
and strict chunk sizes. Raw sockets, so every byte the emulator sends is seen."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from emulator import EmulatorServer
from tests.emulator import wire
from tests.emulator.conftest import TOKEN


@pytest.fixture
def capped() -> Iterator[EmulatorServer]:
    with EmulatorServer(token=TOKEN, max_connections=2) as emu:
        yield emu


def _served(port: int) -> socket.socket:
    """A connection that has had one 200: admitted, and kept alive."""
    sock = wire.connect(port)
    sock.sendall(wire.notify_request())
    head, _ = wire.read_response(sock)
    assert head.startswith(b"HTTP/1.1 200 "), head
    return sock


def _refused_or_served(port: int) -> bytes:
    with wire.connect(port) as sock:
        sock.sendall(wire.notify_request())
        return wire.read_head(sock)[0]


def test_past_the_cap_a_new_connection_gets_503_and_is_closed(capped):
    first, second = _served(capped.port), _served(capped.port)
    with first, second, wire.connect(capped.port) as extra:
        extra.sendall(wire.notify_request())
        answer = wire.read_to_eof(extra)  # fails on a timeout if it is kept open
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ")
        assert wire.header(head + b"\r\n", "Connection") == "close"
        assert json.loads(body)["code"] == 14
        assert capped.open_connections == 2  # the refused one never had a thread


def test_a_connection_is_admitted_again_once_one_closes(capped):
    first, second = _served(capped.port), _served(capped.port)
    with second:
        assert _refused_or_served(capped.port).startswith(b"HTTP/1.1 503 ")
        first.close()
        deadline = time.monotonic() + 10
        while not _refused_or_served(capped.port).startswith(b"HTTP/1.1 200 "):
            assert time.monotonic() < deadline, "no connection admitted 10 s after one closed"
            time.sleep(0.01)


def test_a_refused_request_is_not_recorded(capped):
    with _served(capped.port), _served(capped.port):
        assert _refused_or_served(capped.port).startswith(b"HTTP/1.1 503 ")
    assert [r["status"] for r in capped.state.log.since(0)] == [200, 200]


def test_an_idle_connection_is_closed_after_the_idle_timeout():
    with EmulatorServer(token=TOKEN, idle_timeout_s=0.3) as emu, wire.connect(emu.port) as sock:
        started = time.monotonic()
        sock.sendall(wire.notify_request())
        wire.read_response(sock)
        assert sock.recv(1) == b""  # the emulator closed it (without that, a timeout raises)
        assert time.monotonic() - started >= 0.3 - 0.01  # kept alive until the timeout


def test_a_connection_that_never_sends_is_closed_too():
    with EmulatorServer(idle_timeout_s=0.2) as emu, wire.connect(emu.port) as sock:
        assert sock.recv(1) == b""
        wire.wait_until(lambda: emu.open_connections == 0, "the idle connection's thread to end")


@pytest.mark.parametrize("size", [b"-1", b"-0", b"+5", b"0x5", b"1_0", b""])
def test_a_chunk_size_that_is_not_hex_digits_is_a_bad_request(emulator, size):
    body = size + b"\r\nhello\r\n0\r\n\r\n"
    with wire.connect(emulator.port) as sock:
        sock.sendall(wire.notify_request(body, headers=b"Transfer-Encoding: chunked\r\n"))
        answer = wire.read_to_eof(sock)  # "-1" used to read to the end of the connection
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert "chunk size" in json.loads(body)["message"]


def test_a_hex_chunk_size_with_an_extension_is_read(emulator, control):
    body = b'{"segment":{}}'  # 14 bytes: "e"
    chunked = b"e;name=value\r\n" + body + b"\r\n0\r\n\r\n"
    with wire.connect(emulator.port) as sock:
        sock.sendall(wire.notify_request(chunked, headers=b"Transfer-Encoding: chunked\r\n"))
        head, _ = wire.read_response(sock)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert control.requests()[0]["body"] == {"segment": {}}


@pytest.mark.parametrize(
    "limits", [{"max_connections": 0}, {"max_connections": 1.5}, {"idle_timeout_s": 0}]
)
def test_limits_out_of_range_are_refused_before_listening(limits):
    with pytest.raises(ValueError, match=next(iter(limits))):
        EmulatorServer(**limits)
