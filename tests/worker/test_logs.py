"""worker.logs text lines: one record is one line, whatever the values hold (L3)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from worker.logs import emit

HOSTILE_APP = "ABCDE-12345\n\x1b[31m"


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("notify_relay.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


def fields(line: str) -> dict[str, str]:
    """key=value pairs, a quoted value read back as the JSON string it is."""
    pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line)
    return {key: json.loads(value) if value.startswith('"') else value for key, value in pairs}


def test_a_hostile_application_code_cannot_start_a_line_or_colour_the_terminal(log):
    logger, stream = log
    emit(logger, logging.INFO, "attempt", job="j-1", app=HOSTILE_APP, outcome="success")
    text = stream.getvalue()
    assert text.count("\n") == 1 and "\r" not in text and "\x1b" not in text
    assert text == 'INFO attempt job=j-1 app="ABCDE-12345\\n\\u001b[31m" outcome=success\n'
    assert fields(text)["app"] == HOSTILE_APP  # nothing lost: the escapes read back


@pytest.mark.parametrize("value", [
    "a\rINFO forged line", "a\x00b", "a\x7fb", "a\x9b31mb", "a\u2028b", "a\u2029b",
    "a\u202eb", "a\u200bb", "a\U000e0001b", "lone \ud800 surrogate", "tab\tinside",
])
def test_every_unprintable_character_is_escaped_and_reads_back(log, value):
    logger, stream = log
    emit(logger, logging.WARNING, "state", job=value)
    line = stream.getvalue()
    assert line.endswith("\n") and line[:-1].isprintable()
    assert fields(line)["job"] == value


@pytest.mark.parametrize(("value", "shown"), [
    ("ABCDE-12345", "ABCDE-12345"), ("café", "café"), ("upstream unavailable",
                                                      '"upstream unavailable"'),
    ("", '""'), ('say "hi"', '"say \\"hi\\""'), ("back\\slash", '"back\\\\slash"'),
])
def test_printable_values_stay_as_they_were(log, value, shown):
    logger, stream = log
    emit(logger, logging.INFO, "attempt", job=value)
    assert stream.getvalue() == f"INFO attempt job={shown}\n"
