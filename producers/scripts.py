"""Redis scripts: each a `.lua` file beside the module that owns its keys, called one way.

A script runs by its SHA (EVALSHA): one short command per call. After a Redis restart the
script cache is empty and EVALSHA answers NOSCRIPT, which means nothing ran, so the call
is simply made again with the script's text (EVAL, which caches it again). That is done
here, in one place, for both ways a script is called:

* `script(client, keys, args)`: at once; the reply.
* `script.queue(pipe, keys, args)` on a pipeline, then `execute(pipe)`: the pipeline's
  replies, any NOSCRIPT one re-run with EVAL in a second round trip.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import NoScriptError

#: Helpers every script may use (Redis scripts cannot import one another).
_COMMON = Path(__file__).with_name("lua") / "common.lua"


def lua_table(kind: type[enum.StrEnum]) -> str:
    """`local Status = {QUEUED = 'queued', ...}` for one enum."""
    items = ", ".join(f"{member.name} = {_lua_string(member.value)}" for member in kind)
    return f"local {kind.__name__} = {{{items}}}\n"


def _lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Script:
    """One Lua script: its text (prelude + file), its SHA, and the two ways to call it."""

    def __init__(self, path: Path, *enums: type[enum.StrEnum]) -> None:
        self.name = path.stem
        prelude = "".join(lua_table(kind) for kind in enums) + _COMMON.read_text()
        self.text = prelude + path.read_text()
        self.sha = hashlib.sha1(self.text.encode()).hexdigest()

    def __call__(self, client: redis.Redis, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:  # nothing ran: Redis restarted and forgot the script
            return client.eval(self.text, len(keys), *keys, *args)

    def queue(self, pipe: redis.client.Pipeline, keys: Sequence[Any],
              args: Sequence[Any]) -> None:
        """Add a call to `pipe`; run the pipeline with `execute(pipe)`."""
        if pipe.transaction:
            pipe.eval(self.text, len(keys), *keys, *args)
            return
        calls = pipe.__dict__.setdefault("_notify_scripts", [])
        calls.append((len(pipe.command_stack), self, (len(keys), *keys, *args)))
        pipe.evalsha(self.sha, len(keys), *keys, *args)


def execute(pipe: redis.client.Pipeline) -> list[Any]:
    """`pipe.execute()`, with every NOSCRIPT reply re-run as EVAL; raises the first error."""
    calls = pipe.__dict__.pop("_notify_scripts", [])
    replies = list(pipe.execute(raise_on_error=False))
    missing = [(index, script, args) for index, script, args in calls
               if isinstance(replies[index], NoScriptError)]
    if missing:
        for _, script, args in missing:
            pipe.eval(script.text, *args)
        for (index, _, _), reply in zip(missing, pipe.execute(raise_on_error=False),
                                        strict=True):
            replies[index] = reply
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
