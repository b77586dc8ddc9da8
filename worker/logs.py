"""Worker log lines: `key=value` text by default, one JSON object per line on request.

Every line notify-relay itself writes about a job goes through `emit`, which puts the
same fields in the text (`attempt job=… attempt=2 outcome=transient http_status=503`)
and on the record (`record.notify`), so the JSON form carries them as real keys instead
of a string to re-parse. Celery's own lines get the JSON treatment too, with the task id
when they come from inside a task.

Set-up happens in Celery's `after_setup_logger` / `after_setup_task_logger` signals
(`connect`), i.e. after Celery has installed its handlers, so we only swap formatters
and never fight Celery over which handlers exist.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from producers.settings import Settings

#: Our loggers' common parent: its level is NOTIFY_LOG_LEVEL whatever Celery's --loglevel.
ROOT_LOGGER = "notify_relay"

def emit(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log `event` with `fields` as `key=value` text, and as `record.notify` for JSON."""
    if not logger.isEnabledFor(level):
        return
    present = {key: value for key, value in fields.items() if value is not None}
    text = " ".join([event, *(f"{key}={_text(value)}" for key, value in present.items())])
    logger.log(level, "%s", text, extra={"notify": {"event": event, **present}})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    text = str(value)
    if text.isprintable() and not _NEEDS_QUOTES.search(text) and text:
        return text
    # Quote free text (error messages) so a line still splits into key=value pairs, and
    # escape every character that is not printable (L3): a job id or application code
    # from a foreign message could otherwise start a forged log line (\n, \r) or drive
    # the terminal (ESC, CSI, bidi overrides).
    return escape_unprintable(json.dumps(text, ensure_ascii=False))


_NEEDS_QUOTES = re.compile(r'[\s"\\]')


def escape_unprintable(text: str) -> str:
    r"""`text` with every character that is not printable written as a JSON escape (`\n`,
    `\u001b`, `\u2028`), the rest as it is (L3). For log lines and for what the CLI
    prints: a value from outside (a job id, an endpoint's error text) can then neither
    start a line nor drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _json_escape(c) for c in text)


def _json_escape(char: str) -> str:
    # JSON's own escape (short forms like \n, \uXXXX, a surrogate pair above U+FFFF);
    # DEL is ASCII, which json.dumps leaves as it is.
    escaped = json.dumps(char)[1:-1]
    return escaped if escaped != char else f"\\u{ord(char):04x}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, our fields, task id.

    Only the formatted message is copied, never `record.args`: Celery passes the task's
    arguments there (as `argsrepr`, but a foreign publisher may not set one).
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _iso_utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "notify", None) or {})
        line.update(_task_context())
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


def _iso_utc(created: float) -> str:
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


def _task_context() -> dict[str, str]:
    """The running Celery task's id and name, as Celery's own TaskFormatter finds them."""
    if "celery" not in sys.modules:  # the HTTP API's process: no task, and no Celery import
        return {}
    from celery._state import get_current_task

    task = get_current_task()
    if task is None or not task.request or not task.request.id:
        return {}
    return {"task_id": str(task.request.id), "task_name": str(task.name)}


#: The logger Celery reports messages it cannot run on (an unregistered task name, an
#: unknown format, a body it cannot decode), with 1 KB of the body and the headers.
CONSUMER_LOGGER = "celery.worker.consumer.consumer"


class WithoutMessageContent(logging.Filter):
    """Security review L4: Celery logs 1 KB of a message it cannot run at ERROR (which Sentry's
    logging integration turns into an event): a foreign message's body holds targets and
    content, its headers arguments. The line keeps what happened and drops what was in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and ("body" in str(record.msg) or "message" in str(record.msg)):
            first = str(record.msg).split("\n", 1)[0]
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            # One value on the first line (the task's name): kept. More: the body's.
            said = first % args[:1] if first.count("%") == 1 else first.split("%", 1)[0]
            record.msg = said.rstrip(" :.") + "; discarded, its content is not logged"
            record.args = ()
            record.exc_info = record.exc_text = None
        return True


def configure(logger: logging.Logger, settings: Settings) -> None:
    """Apply NOTIFY_LOG_FORMAT to `logger`'s handlers and NOTIFY_LOG_LEVEL to ours."""
    logging.getLogger(ROOT_LOGGER).setLevel(settings.log_level.upper())
    consumer = logging.getLogger(CONSUMER_LOGGER)
    if not any(isinstance(f, WithoutMessageContent) for f in consumer.filters):
        consumer.addFilter(WithoutMessageContent())
    # Celery's own "received" / "succeeded in" lines repeat ours (worker/events.py) and
    # cost a formatted record per job: keep only its warnings and errors.
    for chatty in ("celery.app.trace", "celery.worker.strategy"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING,
                                               logging.getLogger(ROOT_LOGGER).level))
    if settings.log_format != "json":
        return
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())


def connect(settings: Settings) -> None:
    """Hook `configure` into Celery's logging set-up (worker and task loggers)."""
    from celery import signals

    def on_setup(logger: logging.Logger, **_: object) -> None:
        configure(logger, settings)

    signals.after_setup_logger.connect(on_setup, weak=False)
    signals.after_setup_task_logger.connect(on_setup, weak=False)
