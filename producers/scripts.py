"""Redis scripts: each a `.lua` file beside the module that owns its keys, called one way.

A script runs by its SHA (EVALSHA): one short command per call. After a Redis restart the
script cache is empty and EVALSHA answers NOSCRIPT, which means nothing ran, so the call
is simply made again with the script's text (EVAL, which caches it again). That is done
here, in one place, for both ways a script is called:

* `script(client, keys, args)`: at once; the reply.
* `script.queue(pipe, keys, args)` on a pipeline, then `execute(pipe)`: the pipeline's
  replies, any NOSCRIPT one re-run with EVAL in a second round trip. `execute_and_wait(
  pipe, replicas, timeout_ms)` also ends each round trip with WAIT (NOTIFY_ENQUEUE_MIN_
  REPLICAS) and says how many replicas confirmed the writes.

After a Sentinel failover the new primary's cache holds none of the scripts: the first
call of each answers NOSCRIPT there and is re-run as EVAL, as after a restart.

On `redis.asyncio` (the async producer) the same two, awaited: `await script.acall(client,
keys, args)`, and `script.queue(pipe, ...)` then `await aexecute(pipe)`, with the same
NOSCRIPT handling (the async pipeline queues commands just as the blocking one does).

Inside MULTI (`pipeline(transaction=True)`) a script is queued as EVAL: there a NOSCRIPT
would fail that one command at EXEC while the others still apply, so the transaction
would no longer be all or nothing. (redis-py's own `Script` object instead asks SCRIPT
EXISTS before every pipeline holding one: a round trip per pipeline.)

Lifecycle words (statuses, reasons, ...) are not written in Lua: `Script` prepends a
prelude that defines a Lua table per Python enum it is given, so a script says
`Status.SUCCEEDED` and the word lives once, in the enum.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import NoScriptError

#: Helpers every script may use (Redis scripts cannot import one another).
_COMMON = Path(__file__).with_name("lua") / "common.lua"


def lua_table(kind: type[enum.StrEnum]) -> str:
    """`local Status = {QUEUED = 'queued', ...}` for one enum."""
    items = ", ".join(f"{member.name} = {_lua_string(member.value)}" for member in kind)
    return f"local {kind.__name__} = {{{items}}}\n"


def lua_numbers(name: str, values: Mapping[str, float]) -> str:
    """`local LIMITER = {QUIET_MS = 5000, ...}`: tuning numbers named once, in Python."""
    items = ", ".join(f"{key} = {float(value)!r}" for key, value in values.items())
    return f"local {name} = {{{items}}}\n"


def _lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Script:
    """One Lua script: its text (prelude + includes + file), its SHA, two ways to call it.

    `enums` become Lua tables of their words; `numbers` named tables of constants;
    `includes` are `.lua` files of shared functions, inserted before the script.
    """

    def __init__(self, path: Path, *enums: type[enum.StrEnum],
                 numbers: Mapping[str, Mapping[str, float]] | None = None,
                 includes: Sequence[Path] = ()) -> None:
        self.name = path.stem
        prelude = ("".join(lua_table(kind) for kind in enums)
                   + "".join(lua_numbers(name, values) for name, values in
                             (numbers or {}).items())
                   + _COMMON.read_text() + "".join(p.read_text() for p in includes))
        self.text = prelude + path.read_text()
        self.sha = hashlib.sha1(self.text.encode()).hexdigest()

    def __call__(self, client: redis.Redis, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:  # nothing ran: Redis restarted and forgot the script
            return client.eval(self.text, len(keys), *keys, *args)

    async def acall(self, client: redis.asyncio.Redis, keys: Sequence[Any],
                    args: Sequence[Any]) -> Any:
        """`script(client, keys, args)` on an asyncio client."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:
            return await client.eval(self.text, len(keys), *keys, *args)  # type: ignore[misc]

    def queue(self, pipe: redis.client.Pipeline | redis.asyncio.client.Pipeline,
              keys: Sequence[Any], args: Sequence[Any]) -> None:
        """Add a call to `pipe`; run the pipeline with `execute(pipe)` (`aexecute`)."""
        if _in_multi(pipe):
            pipe.eval(self.text, len(keys), *keys, *args)
            return
        calls = pipe.__dict__.setdefault("_notify_scripts", [])
        calls.append((len(pipe.command_stack), self, (len(keys), *keys, *args)))
        pipe.evalsha(self.sha, len(keys), *keys, *args)


def _in_multi(pipe: Any) -> bool:
    # redis-py names it `transaction` on the blocking pipeline, `is_transaction` on asyncio's.
    return bool(getattr(pipe, "transaction", False) or getattr(pipe, "is_transaction", False))


def execute(pipe: redis.client.Pipeline) -> list[Any]:
    """`pipe.execute()`, with every NOSCRIPT reply re-run as EVAL; raises the first error."""
    calls = pipe.__dict__.pop("_notify_scripts", [])
    replies = list(pipe.execute(raise_on_error=False))
    missing = _requeue_missing(pipe, calls, replies)
    if missing:
        _merge(replies, missing, pipe.execute(raise_on_error=False))
    return _raise_first_error(replies)


async def aexecute(pipe: redis.asyncio.client.Pipeline) -> list[Any]:
    """`execute(pipe)` for an asyncio pipeline: the same replies, the same retry."""
    calls = pipe.__dict__.pop("_notify_scripts", [])
    replies = list(await pipe.execute(raise_on_error=False))
    missing = _requeue_missing(pipe, calls, replies)
    if missing:
        _merge(replies, missing, await pipe.execute(raise_on_error=False))
    return _raise_first_error(replies)


def execute_and_wait(pipe: redis.client.Pipeline, replicas: int,
                     timeout_ms: int) -> tuple[list[Any], int]:
    """`execute(pipe)` with WAIT closing each round trip: the replies, and how many
    replicas confirmed every write (the fewest over the rounds).

    WAIT counts the writes of its own connection only, so it must travel in the same
    pipeline as the scripts: a WAIT on another pooled connection would confirm nothing.
    A NOSCRIPT re-run goes on the pipeline's next round, perhaps on another connection,
    so that round gets its own WAIT. (A round redis-py repeats after a lost connection is
    repeated whole, WAIT included, on the new connection.)
    """
    calls = pipe.__dict__.pop("_notify_scripts", [])
    pipe.execute_command("WAIT", replicas, timeout_ms)
    replies = list(pipe.execute(raise_on_error=False))
    acked = [replies.pop()]
    missing = _requeue_missing(pipe, calls, replies)
    if missing:
        pipe.execute_command("WAIT", replicas, timeout_ms)
        again = list(pipe.execute(raise_on_error=False))
        acked.append(again.pop())
        _merge(replies, missing, again)
    return _raise_first_error(replies), min(_raise_first_error(acked))


async def aexecute_and_wait(pipe: redis.asyncio.client.Pipeline, replicas: int,
                            timeout_ms: int) -> tuple[list[Any], int]:
    """`execute_and_wait` for an asyncio pipeline."""
    calls = pipe.__dict__.pop("_notify_scripts", [])
    pipe.execute_command("WAIT", replicas, timeout_ms)
    replies = list(await pipe.execute(raise_on_error=False))
    acked = [replies.pop()]
    missing = _requeue_missing(pipe, calls, replies)
    if missing:
        pipe.execute_command("WAIT", replicas, timeout_ms)
        again = list(await pipe.execute(raise_on_error=False))
        acked.append(again.pop())
        _merge(replies, missing, again)
    return _raise_first_error(replies), min(_raise_first_error(acked))


def _requeue_missing(pipe: Any, calls: list[tuple[int, Script, tuple[Any, ...]]],
                     replies: list[Any]) -> list[int]:
    """Queue an EVAL on `pipe` for each script call that came back NOSCRIPT; their indexes."""
    missing = []
    for index, script, args in calls:
        if isinstance(replies[index], NoScriptError):
            pipe.eval(script.text, *args)
            missing.append(index)
    return missing


def _merge(replies: list[Any], indexes: list[int], again: Sequence[Any]) -> None:
    for index, reply in zip(indexes, again, strict=True):
        replies[index] = reply


def _raise_first_error(replies: list[Any]) -> list[Any]:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
