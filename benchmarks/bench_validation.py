"""`python -m benchmarks.bench_validation`: what checking one request costs, in µs.

Times `producers.validate` (the function `enqueue`, the CLI and the worker call) on:

* small: the reference's first example (§15.1 V1): a segment push to iOS + Android in
  two locales with custom data, about 0.6 KB of JSON;
* large: every platform and every listed content block, each block with every common
  field (Android adds a Live Update), in 20 locales: about 40 KB of JSON.

Each figure is the median (and p90) of single calls after a warm-up, in wall time and in
CPU time of the thread, for the fast loading route that `validate` uses and for
marshmallow's own `Schema.load` (`--routes both`).
Figures only, no assertion: timing goals live here, not in tests. enqueue_many throughput
is not measured yet (it needs Redis and the Producer).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

from producers.schemas import loader
from producers.schemas.enums import BLOCK_PLATFORMS, Platform
from producers.validation import validate

SMALL: dict[str, Any] = {
    "segment": {
        "application": "ABCDE-12345",
        "platforms": ["IOS", "ANDROID"],
        "code": "active_users",
        "payload": {
            "content": {
                "localized_content": {
                    "default": {
                        "ios": {"title": "Sale", "body": "20% off today"},
                        "android": {"title": "Sale", "body": "20% off today"},
                    },
                    "es": {
                        "ios": {"title": "Oferta", "body": "20% hoy"},
                        "android": {"title": "Oferta", "body": "20% hoy"},
                    },
                }
            },
            "custom_data": {"screen": "promo"},
        },
        "schedule": {"at": "2026-05-01T09:00:00Z"},
        "message_type": "MESSAGE_TYPE_MARKETING",
        "campaign": "SPRING-2026",
    }
}
_LOCALE_KEYS = "default en es de fr it pt ru ja ko zh-Hans zh-Hant ar he tr pl nl sv uk hi"
LOCALES = _LOCALE_KEYS.split()
COMMON = {
    "title": "Spring sale",
    "subtitle": "Today only",
    "body": "20% off everything until midnight",
    "icon": "ic_sale",
    "image": "https://example.com/sale.png",
    "attachment": "https://example.com/sale.jpg",
    "banner": "https://example.com/banner.png",
    "sound": "chime.caf",
    "sound_enabled": True,
    "badges": "3",
    "priority": "PRIORITY_HIGH",
    "delivery_priority": "HIGH",
}
LIVE_UPDATE = {
    "op": "OPERATION_UPDATE",
    "id": "order_77",
    "progress": 3,
    "segments": [{"color": "#336699", "length": 5}, {"color": "#ffcc00", "length": 5}],
    "when": 1780401600000,
}


def large_request() -> dict[str, Any]:
    """All platforms, all ten content blocks with every common field, 20 locales."""
    blocks = {block: dict(COMMON) for block in BLOCK_PLATFORMS}
    blocks["android"]["live_update"] = LIVE_UPDATE
    request = copy.deepcopy(SMALL)
    request["segment"]["platforms"] = [p.value for p in Platform if p is not Platform.EMAIL]
    request["segment"]["payload"]["content"]["localized_content"] = {
        locale: copy.deepcopy(blocks) for locale in LOCALES
    }
    return request


def time_calls(call: Callable[[], Any], seconds: float) -> tuple[list[float], list[float]]:
    """(wall, CPU) durations in µs of single calls, for about `seconds` after a warm-up.

    The CPU time of this thread is the steadier figure on a shared machine: it leaves out
    the time the process waited for a core.
    """
    for _ in range(50):
        call()
    gc.collect()
    wall: list[float] = []
    cpu: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        call()
        cpu.append((time.thread_time_ns() - start_cpu) / 1000)
        wall.append((time.perf_counter_ns() - start) / 1000)
    return wall, cpu


def measure(name: str, request: dict[str, Any], route: str, seconds: float) -> dict[str, Any]:
    validate(request)  # it must be valid, or the figure means nothing
    loader.FAST = route == "fast"
    try:
        wall, cpu = time_calls(lambda: validate(request), seconds)
    finally:
        loader.FAST = True
    return {
        "request": name,
        "route": route,
        "bytes": len(json.dumps(request)),
        "calls": len(wall),
        "median_us": round(statistics.median(wall), 1),
        "p90_us": round(statistics.quantiles(wall, n=10)[-1], 1),
        "median_cpu_us": round(statistics.median(cpu), 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_validation")
    parser.add_argument("--seconds", type=float, default=3.0, help="per figure (default 3)")
    parser.add_argument("--routes", choices=["fast", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    routes = ["fast", "marshmallow"] if args.routes == "both" else ["fast"]
    requests = {"small": SMALL, "large": large_request()}
    rows = [
        measure(name, request, route, args.seconds)
        for name, request in requests.items()
        for route in routes
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"Python {platform.python_version()}, marshmallow {metadata.version('marshmallow')}, "
        f"{platform.machine()}"
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"{'request':<8}{'route':<13}{'bytes':>8}{'calls':>9}"
        f"{'median µs':>12}{'p90 µs':>10}{'median CPU µs':>15}"
    )
    for row in rows:
        print(
            f"{row['request']:<8}{row['route']:<13}{row['bytes']:>8}{row['calls']:>9}"
            f"{row['median_us']:>12}{row['p90_us']:>10}{row['median_cpu_us']:>15}"
        )


if __name__ == "__main__":
    main()
