"""Operations commands: `stats`, `health`, `metrics` and `flower`.

Exit codes as elsewhere (notify_relay/cli/errors.py): 0 fine, 1 unhealthy (no live worker),
2 usage or configuration, 3 Redis unavailable.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from typing import IO, Any

import click

from notify_relay import container as pid1
from notify_relay.addresses import is_loopback
from notify_relay.cli.common import load_settings
from notify_relay.supervise import run_until_stopped
from producers.connection import redis_client
from producers.settings import Settings, SettingsError
from worker.exporter import serve
from worker.health import check
from worker.logs import escape_unprintable
from worker.store import Stores
from worker.store.stats import collect

#: How long a CLI read waits for Redis before it says Redis is unreachable.
REDIS_TIMEOUT_S = 5

_CLEAR = "\x1b[H\x1b[2J"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object (per refresh).")
@click.option("--watch", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between refreshes.")
@click.option("--count", type=int, help="With --watch: stop after this many refreshes.")
def stats(as_json: bool, watch: bool, interval: float, count: int | None) -> None:
    """Queue depth, parked retries, dead letters, last-minute sends, circuit, limiter, workers."""
    settings = load_settings()
    client = redis_client(settings, socket_timeout=REDIS_TIMEOUT_S,
                                  socket_connect_timeout=REDIS_TIMEOUT_S)
    stores = Stores.build(settings, client)
    shown = 0
    try:
        while True:
            snapshot = collect(stores)
            if as_json:
                click.echo(json.dumps(snapshot, sort_keys=True), nl=True)
            else:
                click.echo((_CLEAR if watch and sys.stdout.isatty() else "")
                           + render(settings, snapshot))
            shown += 1
            if not watch or (count is not None and shown >= count):
                return
            time.sleep(interval)  # a screen refresh period, not a wait for some state
    except KeyboardInterrupt:
        return
    finally:
        client.close()


def render(settings: Settings, s: dict[str, Any]) -> str:
    """The text form of a `worker.store.stats.collect` snapshot."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s["time"]))
    retries = s["retries"]
    due = retries["next_due_in_s"]
    dead = s["dead_letters"]
    waiting = s["waiting"]
    rows = [
        f"notify-relay stats  {stamp}  (prefix {settings.key_prefix})",
        _row("waiting", waiting["total"], _priorities(waiting["by_priority"])),
        _row("top applications", waiting["applications"], _apps(waiting["top_applications"])),
        _row(f"handed out ({s['queue']['name']})", s["queue"]["depth"], _queue(s["queue"])),
        _row("parked retries", retries["parked"], "" if due is None else f"next due in {due}s"),
        _row("dead letters", dead["total"], _pairs(dead["by_reason"] or {})),
        _row("sends, last 60 s", sum(s["last_minute"].values()), _pairs(s["last_minute"])),
        _row("sends, last hour", sum(sum(m["sends"].values()) for m in s["sends_per_minute"]),
             _pairs(_hour_by_class(s["sends_per_minute"]))),
        _row("share by app", "", _pairs(s["share_last_minute"])),
        _row("circuit", s["circuit"]["state"].upper(), _circuit(s["circuit"])),
        _row("limiter", "", _limiter(s["limiter"])),
        _row("workers live", len(s["workers"]),
             ", ".join(f"{n} ({age}s ago)" for n, age in sorted(s["workers"].items()))),
        _row("jobs, all time", "", _pairs({k: int(v) for k, v in s["totals"].items()
                                           if k in ("succeeded", "circuit_opened", "late")
                                           or k.split(":")[0] in ("retries", "dead")})),
        _row("messages, all time", s["messages"]["taken"], _messages(s["messages"])),
        *_webhook_rows(s["webhooks"]),
        _row("unknown identifiers", s["unknown_identifiers"]["reported"],
             f"reported in all; {s['unknown_identifiers']['jobs_kept']} job(s) kept for export"),
    ]
    return "\n".join(rows)


def _hour_by_class(minutes: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for minute in minutes:
        for cls, count in minute["sends"].items():
            totals[cls] = totals.get(cls, 0) + count
    return totals


def _webhook_rows(hooks: dict[str, Any]) -> list[str]:
    url = hooks["url"]
    state = ("off (NOTIFY_WEBHOOK_URL not set)" if url is None
             else f"STOPPED: {url} answered 410 Gone (notify-relay webhooks resume)"
             if hooks["url_gone"] else f"to {url}")
    overdue = hooks["oldest_due_s"]
    dead = hooks["dead_letters"]
    return [
        _row("webhooks", "", _printable(state)),
        _row("  backlog", hooks["backlog"], "" if not overdue else f"oldest due {overdue}s ago"),
        _row("  dead letters", dead["total"], _pairs(dead["by_reason"])),
        _row("  deliveries", sum(hooks["deliveries"].values()), _pairs(hooks["deliveries"])),
    ]


def _row(label: str, value: object, detail: str) -> str:
    return f"  {label:<22}{value!s:>8}  {detail}".rstrip()


def _messages(messages: dict[str, int]) -> str:
    """Flower's worker counters (a task is one message): how they ended, and their jobs."""
    states = _pairs({k: v for k, v in messages.items() if k not in ("taken", "jobs")})
    return f"{states}  carrying {messages['jobs']} jobs (Flower counts messages)"


def _queue(queue: dict[str, Any]) -> str:
    return f"jobs with workers or on their way, {queue.get('messages', 0)} message(s) queued"


def _priorities(by_priority: dict[str, Any]) -> str:
    return "  ".join(f"{name}={p['jobs']}" + (f" (oldest {p['oldest_age_s']}s)"
                                             if p["oldest_age_s"] is not None else "")
                     for name, p in by_priority.items())


def _apps(apps: list[dict[str, Any]]) -> str:
    return "  ".join(f"{_printable(a['application'])}:{a['priority']}={a['waiting']}"
                     for a in apps)


def _printable(text: object) -> str:
    """Application codes and endpoint text reach a terminal: no control characters (L3),
    escaped as the log lines escape them."""
    return escape_unprintable(str(text))


def _pairs(counts: dict[str, Any]) -> str:
    return "  ".join(f"{_printable(k)}={v}" for k, v in sorted(counts.items()))


def _circuit(circuit: dict[str, Any]) -> str:
    if circuit["state"] != "open":
        return "sending"
    return (f"sends stopped for {circuit['open_for_s']}s, next probe in "
            f"{circuit['next_probe_in_s']}s: {_printable(circuit['reason'])}")


def _limiter(scopes: list[dict[str, Any]] | None) -> str:
    if scopes is None:
        return "(not readable here: needs PUSHWOOSH_API_TOKEN)"
    return "; ".join(_scope(scope) for scope in scopes) or "(no limits in use)"


def _scope(scope: dict[str, Any]) -> str:
    """`token 1a2b…: 10/s of 10/s waits=3` or `app ABCDE-12345: …, throttled 2.0s`."""
    name = (f"app {_printable(scope['application'])}" if scope.get("application")
            else f"token {str(scope.get('token', ''))[:8]}…")
    rate = ("no own limit" if scope.get("configured_per_s") is None else
            f"{scope['effective_per_s']:g}/s of {scope['configured_per_s']:g}/s")
    until = scope.get("throttled_until")
    throttled = f", throttled {max(0.0, until - time.time()):.1f}s" if until else ""
    return f"{name}: {rate}{throttled}"


@click.command()
@click.option("--worker", "require_worker", is_flag=True,
              help="Also require a live worker (heartbeat in the last 20 s).")
@click.option("--node", default="*", show_default=True,
              help="Worker node name or pattern --worker looks for (e.g. 'celery@web-1').")
@click.option("--this-host", is_flag=True,
              help="Look for a worker on this host (node '*@<hostname>'): a worker "
                   "container's check.")
@click.option("--container", is_flag=True,
              help="Check whatever this container's PID 1 is (worker: its heartbeat; "
                   "Flower, emulator, metrics: their HTTP port; else Redis): the image's "
                   "check.")
def health(require_worker: bool, node: str, this_host: bool, container: bool) -> None:
    """One line; exit 0 healthy, 1 unhealthy (no live worker), 3 Redis unavailable.

    For Docker and orchestrators, which take any non-zero code as unhealthy.
    """
    if container:
        if require_worker or this_host or node != "*":
            raise click.UsageError("--container picks the check from PID 1 itself: "
                                   "it takes no --worker, --node or --this-host")
        ok, line = _container_health(socket.gethostname())
        click.echo(line)
        sys.exit(0 if ok else 1)
    if this_host:
        node, require_worker = f"*@{socket.gethostname()}", True
    result = check(load_settings(), require_worker=require_worker, node=node)
    click.echo(result.line)
    sys.exit(0 if result.ok else 1)


def _container_health(hostname: str) -> tuple[bool, str]:
    try:
        argv = pid1.read_cmdline()
    except OSError as exc:
        return False, f"unhealthy: cannot read PID 1's command line ({exc})"
    probe = pid1.probe_for(argv, os.environ, hostname)
    if probe.kind == "http":
        return pid1.http_check(probe)
    # Settings only where Redis is checked: the emulator and Flower need none of them.
    result = check(load_settings(), require_worker=probe.kind == "worker",
                   node=probe.pattern or "*")
    return result.ok, f"{result.line} [{probe.what}]"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Listen address (unauthenticated: 0.0.0.0 only behind a firewall).")
@click.option("--port", default=9808, show_default=True)
def metrics(host: str, port: int) -> None:
    """Serve the fleet's counters in Prometheus format on http://HOST:PORT/metrics."""
    settings = load_settings()
    server, _ = serve(settings, host, port)
    click.echo(f"metrics on http://{host}:{server.server_port}/metrics; Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--port", default=5555, show_default=True)
@click.option("--address", help="Listen address (default 0.0.0.0; 127.0.0.1 when local).")
@click.option("--allow-control", is_flag=True,
              help="Allow Flower's task and worker controls (off: read-only). Whoever has "
                   "the login can then stop workers, revoke and send tasks.")
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
def flower(port: int, address: str | None, allow_control: bool,
           flower_args: tuple[str, ...]) -> None:
    """Run Flower for this service, behind the FLOWER_BASIC_AUTH login.

    Without FLOWER_BASIC_AUTH it refuses to start, unless NOTIFY_FLOWER_LOCAL=1 (then it
    listens on 127.0.0.1 only). Extra arguments go to Flower, except those that would
    undo these guards (address, port, read_only, auth, basic_auth, unix_socket, conf).
    """
    settings = load_settings()  # a bad variable is its own SettingsError, with its advice
    try:
        argv, env = flower_command(settings, dict(os.environ), port=port,
                                   address=address, allow_control=allow_control,
                                   extra=flower_args)
    except FlowerArgumentError as exc:
        raise _Refused(str(exc)) from None
    except ValueError as exc:  # its text already says what to do
        raise SettingsError(str(exc), todo="") from None
    raise SystemExit(run_until_stopped(argv, env))  # a stop signal reaches Flower, surely


class FlowerArgumentError(ValueError):
    """A pass-through argument or FLOWER_* variable that would undo a guard."""


class _Refused(click.ClickException):
    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"notify-relay flower: {self.message}", err=True)


#: Flower options this command sets itself or that would undo its guards (the login,
#: 127.0.0.1 when local, read-only unless --allow-control), by Flower's name for them.
#: Flower (tornado) reads `--name=v`, `-name=v` and `--na-me=v` alike, so every spelling
#: is normalised before the lookup.
_FLOWER_REFUSED = {
    "address": "set the listen address with this command's own --address "
               "(127.0.0.1 only without FLOWER_BASIC_AUTH)",
    "port": "set the port with this command's own --port",
    "read_only": "Flower is read-only unless this command's --allow-control",
    "basic_auth": "pass the login in FLOWER_BASIC_AUTH, not on the command line "
                  "(arguments are visible to every user of the host)",
    "auth": "the login is FLOWER_BASIC_AUTH; Flower's OAuth options are not supported",
    "auth_provider": "the login is FLOWER_BASIC_AUTH; Flower's OAuth options are not supported",
    "unix_socket": "Flower listens on --address and --port only",
    "conf": "a Flower config file can set any of these; use FLOWER_* variables for the rest",
}
#: FLOWER_* variables Flower would read that the command line does not override.
_FLOWER_REFUSED_ENV = ("FLOWER_UNIX_SOCKET", "FLOWER_AUTH", "FLOWER_AUTH_PROVIDER")


def flower_option_name(arg: str) -> str:
    """Flower's name for a pass-through argument: `--read-only=False` -> `read_only`."""
    return arg.lstrip("-").partition("=")[0].replace("-", "_").lower()


def _refuse_guard_breakers(environ: dict[str, str], extra: tuple[str, ...]) -> None:
    for arg in extra:
        if not (arg.startswith("-") or "=" in arg):
            continue  # not an option: Flower stops reading options at it
        name = flower_option_name(arg)
        if name.startswith("basic_auth"):
            name = "basic_auth"
        if name in _FLOWER_REFUSED:
            secret = name == "basic_auth" and "=" in arg  # never echo a password
            shown = arg.partition("=")[0] + "=..." if secret else arg
            raise FlowerArgumentError(f"refused {shown}: {_FLOWER_REFUSED[name]}")
    for var in _FLOWER_REFUSED_ENV:
        if environ.get(var):
            raise FlowerArgumentError(f"refused {var}: {_FLOWER_REFUSED[var[7:].lower()]}")


def flower_command(settings: Settings, environ: dict[str, str], *, port: int,
                   address: str | None, allow_control: bool,
                   extra: tuple[str, ...] = ()) -> tuple[list[str], dict[str, str]]:
    """The Flower argv and environment, or ValueError saying why it must not start."""
    _refuse_guard_breakers(environ, extra)
    if not settings.flower_basic_auth:
        if not settings.flower_local:
            raise ValueError("FLOWER_BASIC_AUTH is not set: Flower shows every task and can "
                             "control workers, so it needs a login (user:password). For a "
                             "local run on 127.0.0.1 set NOTIFY_FLOWER_LOCAL=1")
        address = address or "127.0.0.1"
        if not is_loopback(address):
            raise ValueError(f"NOTIFY_FLOWER_LOCAL without FLOWER_BASIC_AUTH listens on "
                             f"127.0.0.1 only, not {address!r}")
    # --conf=/dev/null: Flower would otherwise exec ./flowerconfig.py from the working
    # directory, which could set unix_socket or auth behind this command's back.
    argv = [sys.executable, "-m", "celery", "-A", "worker", "flower", f"--port={port}",
            f"--address={address or '0.0.0.0'}", f"--conf={os.devnull}"]
    if not allow_control:
        argv.append("--read_only=True")
    env = {k: v for k, v in environ.items() if k != "PUSHWOOSH_API_TOKEN"}  # Flower never sends
    if not env.get("FLOWER_BASIC_AUTH"):
        env.pop("FLOWER_BASIC_AUTH", None)  # Flower would read "" as a login with no password
    return [*argv, *extra], env


def command_argv(*args: str) -> list[str]:
    """`notify-relay ARGS…` as a child process of this interpreter (for the demo, tests)."""
    return [sys.executable, "-m", "notify_relay.cli", *args]
