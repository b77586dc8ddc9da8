"""What a container runs, and how to check it: `notify-relay health --container`.

The image has one HEALTHCHECK for every command it runs (worker, Flower, the emulator, the
scheduler, the metrics exporter), so the check reads what PID 1 is and checks that:

| PID 1 (through tini / docker-init)          | check                                          |
|---------------------------------------------|------------------------------------------------|
| `celery -A worker worker [-n NODE]`         | Redis answers and NODE beat in the last 20 s   |
| `notify-relay flower`, `celery ... flower`  | GET /healthcheck on its port answers 2xx       |
| `notify-relay emulator`                     | GET /_emulator/health on its port answers 2xx  |
| `notify-relay metrics`                      | GET /favicon.ico on its port answers 2xx       |
| `notify-relay scheduler`, anything else     | Redis answers                                  |

Why PID 1 rather than a health command per service: the check then travels with the
image (`docker run`, Swarm, compose, a platform that honours HEALTHCHECK) and cannot be
forgotten on a new service, as the worker-only check was on the emulator (always
unhealthy) and would have been on the scheduler and the exporter. The worker is matched
by its own node name (what Celery makes of `-n`, default `celery@<hostname>`), not by any
worker on the host: with `--network host` several containers share one hostname.
"""

from __future__ import annotations

import glob
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Init processes that run the real command as their child (`--init`, compose `init: true`).
_INITS = {"docker-init", "tini", "tini-static", "dumb-init", "catatonit"}
#: Their options that take a value (tini -p SIG / -e CODE, dumb-init -r s:r).
_INIT_VALUE_OPTIONS = {"-p", "-e", "-r", "--rewrite"}
_PYTHON = re.compile(r"python(\d+(\.\d+)?)?")
_PYTHON_VALUE_OPTIONS = {"-X", "-W", "-Q"}
#: `celery` options before the subcommand that take a value.
_CELERY_VALUE_OPTIONS = {"-A", "--app", "-b", "--broker", "--result-backend", "--loader",
                         "--config", "--workdir"}
_MODULES = {"celery": "celery", "celery.__main__": "celery", "flower": "flower",
            "flower.__main__": "flower", "notify_relay": "notify-relay",
            "notify_relay.__main__": "notify-relay", "notify_relay.cli": "notify-relay",
            "notify_relay.cli.__main__": "notify-relay"}


@dataclass(frozen=True)
class Probe:
    """How to check one process: `worker` (heartbeat of `node`), `http` (`url`), `redis`."""

    kind: str
    what: str
    node: str = ""
    url: str = ""
    pattern: str = ""  # worker: the fnmatch pattern of the node(s) that must beat


def read_cmdline(pid: int = 1, proc: Path = Path("/proc")) -> list[str]:
    raw = (proc / str(pid) / "cmdline").read_bytes()
    return [arg.decode(errors="replace") for arg in raw.split(b"\0")[:-1]] if raw else []


def probe_for(argv: Sequence[str], environ: Mapping[str, str], hostname: str) -> Probe:
    """The check for a process started as `argv` (PID 1's command line)."""
    program, args = _program(_without_init(list(argv)))
    if program == "celery":
        sub, rest = _celery_subcommand(args)
        if sub == "worker":
            node = worker_node(rest, environ, hostname)
            return Probe("worker", f"celery worker {node}", node=node,
                         pattern=worker_pattern(node))
        if sub == "flower":
            return _flower(rest, environ, "celery flower")
    elif program == "flower":
        return _flower(args, environ, "flower")
    elif program == "notify-relay":
        probe = _notify_relay(args, environ, hostname)
        if probe is not None:
            return probe
    shown = " ".join([program, *args][:3]) or "nothing"
    return Probe("redis", f"{shown} (no check of its own)")


def _notify_relay(args: list[str], environ: Mapping[str, str], hostname: str) -> Probe | None:
    """The check for `notify-relay <command> ...`."""
    sub = next((arg for arg in args if not arg.startswith("-")), "")
    rest = args[args.index(sub) + 1:] if sub else []
    if sub == "flower":
        return _flower(rest, environ, "notify-relay flower")
    if sub == "worker":  # worker0@host, worker1@host, ... (notify_relay/workers.py)
        named = rest if _last_value(rest, "--hostname", "-n") else [*rest, "-n", "worker@%h"]
        name, _, host = worker_node(named, environ, hostname).partition("@")
        pattern = f"{glob.escape(name)}[0-9]*@{glob.escape(host)}"
        return Probe("worker", f"notify-relay worker {name}N@{host}", node=pattern,
                     pattern=pattern)
    if sub == "emulator":
        host = _last_value(rest, "--host") or "127.0.0.1"
        port = _last_value(rest, "--port") or environ.get("PORT") or "8080"
        return Probe("http", "notify-relay emulator",
                     url=_url(host, port, "/_emulator/health"))
    if sub == "metrics":
        # prometheus_client answers /favicon.ico without collecting: every other path
        # runs a full scrape, which reads the queue in Redis (too much for every 30 s).
        host = _last_value(rest, "--host") or "127.0.0.1"
        port = _last_value(rest, "--port") or "9808"
        return Probe("http", "notify-relay metrics", url=_url(host, port, "/favicon.ico"))
    if sub:
        return Probe("redis", f"notify-relay {sub}")
    return None


def worker_node(args: Sequence[str], environ: Mapping[str, str], hostname: str) -> str:
    """The node name `celery worker ARGS` takes: Celery's own rules for -n/--hostname."""
    from celery.utils.nodenames import NODENAME_DEFAULT, host_format, nodename, nodesplit

    value = _last_value(args, "--hostname", "-n") or environ.get("CELERY_WORKER_HOSTNAME", "")
    name, host = nodesplit(value)
    return host_format(nodename(name or NODENAME_DEFAULT, host or hostname), host=hostname)


def worker_pattern(node: str) -> str:
    """`node` as an fnmatch pattern matching only itself."""
    return glob.escape(node)


def http_check(probe: Probe, timeout_s: float = 5.0) -> tuple[bool, str]:
    """GET `probe.url` directly (never through an HTTP proxy from the environment)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.perf_counter()
    try:
        with opener.open(probe.url, timeout=timeout_s) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"unhealthy: {probe.what}: {probe.url} unreachable ({reason})"
    took_ms = (time.perf_counter() - started) * 1000
    if not 200 <= status < 300:
        return False, f"unhealthy: {probe.what}: {probe.url} answered HTTP {status}"
    return True, f"ok: {probe.what}: {probe.url} answered HTTP {status} in {took_ms:.1f} ms"


def _without_init(argv: list[str]) -> list[str]:
    while argv and os.path.basename(argv[0]) in _INITS:
        rest = argv[1:]
        if "--" in rest:
            argv = rest[rest.index("--") + 1:]
            continue
        i = 0
        while i < len(rest) and rest[i].startswith("-"):
            i += 2 if rest[i] in _INIT_VALUE_OPTIONS else 1
        argv = rest[i:]
    return argv


def _program(argv: list[str]) -> tuple[str, list[str]]:
    """(`celery` | `notify-relay` | `flower` | a name, its arguments), past any `python`."""
    if not argv:
        return "", []
    if not _PYTHON.fullmatch(os.path.basename(argv[0])):
        return os.path.basename(argv[0]), argv[1:]
    i = 1
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        arg = argv[i]
        if arg == "-m" or (arg.startswith("-m") and len(arg) > 2):
            module, args = (argv[i + 1], argv[i + 2:]) if arg == "-m" else (arg[2:], argv[i + 1:])
            return _MODULES.get(module, module), args
        if arg == "-c":
            return "python -c", argv[i + 2:]
        i += 2 if arg in _PYTHON_VALUE_OPTIONS else 1
    if i >= len(argv):
        return "python", []
    return os.path.basename(argv[i]), argv[i + 1:]  # a console script run by its shebang


def _celery_subcommand(args: list[str]) -> tuple[str, list[str]]:
    i = 0
    while i < len(args):
        if args[i] in _CELERY_VALUE_OPTIONS:
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return args[i], args[i + 1:]
    return "", []


def _flower(args: list[str], environ: Mapping[str, str], what: str) -> Probe:
    """Flower's own options are tornado's (`--port=N`, `-port=N`); ours are click's.

    Flower reads FLOWER_PORT / FLOWER_ADDRESS from the environment, but `notify-relay
    flower` always passes --port and --address, which win over them.
    """
    ours = what == "notify-relay flower"
    port = (_last_value(args, "--port") or ("" if ours else environ.get("FLOWER_PORT", ""))
            or "5555")
    address = (_last_value(args, "--address")
               or ("" if ours else environ.get("FLOWER_ADDRESS", "")) or "0.0.0.0")
    prefix = (_last_value(args, "--url_prefix", "--url-prefix")
              or environ.get("FLOWER_URL_PREFIX", "")).strip("/")
    return Probe("http", what, url=_url(address, port, f"/{prefix}/healthcheck"
                                        if prefix else "/healthcheck"))


def _last_value(args: Sequence[str], *names: str) -> str:
    """The last value given to any of `names` (`--opt V`, `--opt=V`, `-opt=V`, `-nV`)."""
    longs = {name.lstrip("-").replace("-", "_") for name in names if name.startswith("--")}
    shorts = [name for name in names if not name.startswith("--")]
    value = ""
    for i, arg in enumerate(args):
        key, eq, rest = arg.lstrip("-").partition("=")
        if arg.startswith("-") and key.replace("-", "_") in longs and len(key) > 1:
            if eq:
                value = rest
            elif i + 1 < len(args):
                value = args[i + 1]
        for short in shorts:
            if arg == short and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(short) and not arg.startswith("--") and len(arg) > len(short):
                value = arg[len(short):]
    return value


def _url(host: str, port: str, path: str) -> str:
    if host in ("", "0.0.0.0", "*"):
        host = "127.0.0.1"  # listening everywhere: loopback reaches it
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"
