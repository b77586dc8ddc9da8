"""`python -m emulator`: run the emulator in the foreground (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from emulator.server import DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MAX_CONNECTIONS, serve

TOKEN_ENV = "EMULATOR_TOKEN"


def _fault(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}): {text}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object: {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Local stand-in for Pushwoosh POST /messaging/v2/notify.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--also-listen",
        action="append",
        default=[],
        metavar="ADDR",
        help="listen on this address too, same port; repeatable",
    )
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--token", help=f"the only accepted API token (default: ${TOKEN_ENV}; unset: any)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every notify")
    parser.add_argument(
        "--no-record-bodies",
        dest="record_bodies",
        action="store_false",
        help="record requests without their bodies (long benchmark runs)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help="open connections at most (a thread each); past it new ones get 503",
    )
    parser.add_argument(
        "--idle-timeout-s",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT_S,
        help="close a connection after this long without a byte from its client",
    )
    parser.add_argument(
        "--fault",
        dest="faults",
        type=_fault,
        action="append",
        default=[],
        metavar="JSON",
        help="a fault object to script at start-up; repeatable",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    try:
        serve(
            args.host,
            args.port,
            token=token,
            latency_ms=args.latency_ms,
            record_bodies=args.record_bodies,
            faults=args.faults,
            max_connections=args.max_connections,
            idle_timeout_s=args.idle_timeout_s,
            also_listen=args.also_listen,
        )
    except ValueError as exc:  # a bad --fault (FaultError), --latency-ms or limit
        parser.error(str(exc))
    except OSError as exc:
        print(f"emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
