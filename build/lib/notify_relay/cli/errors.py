"""How every `notify-relay` command fails: one line on stderr and an exit code scripts trust.

`Group.invoke` is the one place a command's error is caught. The line is
`notify-relay: <what>: <why>; <what to do>`, worded by `producers.exceptions.one_line`
(the worker logs Redis errors with the same function); a traceback only with `--debug`
(or NOTIFY_DEBUG=1), before the same line and with the same exit code.

| code | meaning                                                                     |
|------|-----------------------------------------------------------------------------|
| 0    | done; the answer is yes (valid, found, healthy)                             |
| 1    | the answer is no, or some items failed (invalid request, unknown job, no    |
|      | dead letter, no live worker, a demo job not delivered)                      |
| 2    | bad usage or settings (arguments, a variable, REDIS_URL's login, a file)    |
| 3    | Redis unavailable or full (unreachable, timed out, loading, read-only,      |
|      | failing over, out of memory, not replicated, or a reply nobody expected)    |
| 4    | an internal error: a bug; rerun with --debug and report the traceback       |
"""

from __future__ import annotations

import traceback
from typing import Any

import click
import redis

from producers.exceptions import (
    NotifyRelayError,
    QueueError,
    SettingsError,
    ValidationError,
    format_line,
    one_line,
)
from producers.redis_errors import queue_error, redacted_endpoint

OK, NO, USAGE, REDIS, INTERNAL = 0, 1, 2, 3, 4

#: The table above, for `notify-relay --help` (\b keeps click from re-wrapping it).
EXIT_CODES_HELP = """\b
Exit codes:
  0  done; the answer is yes (valid, found, healthy)
  1  the answer is no, or some items failed (invalid request, unknown job,
     no dead letter, no live worker)
  2  bad usage or settings (arguments, a variable, REDIS_URL's login, a file)
  3  Redis unavailable or full (unreachable, timed out, loading, read-only,
     failing over, out of memory)
  4  an internal error (a bug): rerun with --debug, report the traceback"""

#: Where `load_settings` leaves the settings, so an error can name the Redis endpoint.
SETTINGS_KEY = "notify_relay.settings"


class Group(click.Group):
    """A click group whose commands fail with one line and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit,
                click.exceptions.Abort):
            raise  # click's own: usage errors (exit 2), ctx.exit(), Ctrl-C
        except Exception as exc:  # every command's failure ends here, as one line
            if ctx.params.get("debug"):
                traceback.print_exc()
            line, code = report(exc, _endpoint(ctx))
            click.echo(f"notify-relay: {line}", err=True)
            ctx.exit(code)


def report(exc: Exception, endpoint: str) -> tuple[str, int]:
    """The line (without `notify-relay: `) and the exit code for a command's failure."""
    if isinstance(exc, redis.RedisError):  # a store that does not translate (yet)
        translated = queue_error(exc, endpoint)
        translated.__cause__ = exc
        exc = translated
    if isinstance(exc, NotifyRelayError):
        return one_line(exc), exit_code_for(exc)
    if isinstance(exc, OSError):
        return _os_line(exc), USAGE
    return format_line("internal error", f"{type(exc).__name__}: {exc}",
                       "rerun with --debug and report the traceback (it is a bug)"), INTERNAL


def exit_code_for(error: NotifyRelayError) -> int:
    if isinstance(error, QueueError):
        return REDIS
    if isinstance(error, SettingsError):
        return USAGE
    if isinstance(error, ValidationError):
        return NO
    return INTERNAL


def _os_line(exc: OSError) -> str:
    why = exc.strerror or str(exc)
    if exc.filename:
        return format_line(f"cannot use {exc.filename}", why, "check the path and its permissions")
    return format_line("system error", why, "check the arguments (ports, paths) and retry")


def _endpoint(ctx: click.Context) -> str:
    settings = ctx.meta.get(SETTINGS_KEY)
    return redacted_endpoint(settings.redis_url) if settings is not None else "(REDIS_URL)"
