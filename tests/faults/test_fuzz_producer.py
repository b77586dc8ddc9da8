"""Producer input fuzzing: random and mutated requests never put a bad job on the queue.

For every input, `Producer.enqueue` and `notify-relay enqueue FILE` either accept it, and
the job waiting carries a body that `producers.validate` accepts and that is
strict JSON, or refuse it with a `producers.ValidationError` (exit 1 for the CLI) that
names every problem as `path.to.field: message`, the path leading into the request,
and leave the queue as it was. Nothing else: no other exception, no traceback.

Runs against a private `redis-server` (no AOF needed here). Fast: not marked `faults`.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from notify_relay.processes import free_port
from producers import Producer, ValidationError, validate
from producers.keys import Keys
from producers.settings import Settings
from producers.validation import flatten_messages
from tests.faults.cluster import ROOT, RedisServer
from tests.faults.runner import probe_request

QUEUE = "notify-fuzz"
EXAMPLES = ROOT / "examples"
#: The contract's own corpus of valid requests, when present, seeds the mutations too.
CORPUS = ROOT / "tests" / "producers" / "corpus" / "valid.json"


def seeds() -> list[dict[str, Any]]:
    found = [json.loads((EXAMPLES / f"{name}.json").read_text())
             for name in ("segment", "transactional")]
    found.append(probe_request("fuzz"))
    if CORPUS.exists():
        found += [case["request"] for case in json.loads(CORPUS.read_text())]
    return found


SEEDS = seeds()


def keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


# --- strategies ---

#: Field names the schema knows, so random objects often look almost right.
NAMES = st.sampled_from(sorted(set().union(*map(keys_in, SEEDS)))) | st.text(max_size=12)
JSON_LEAVES = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
               | st.sampled_from(["", "IOS", "ANDROID", "2026-05-01T09:00:00Z", "0s", "1h"]))
#: What a caller's code can hand over by mistake: none of it is JSON, or strict JSON.
ODD_LEAVES = st.sampled_from([float("nan"), float("inf"), b"bytes", (1, "a"), {1, 2},
                              object(), 10**400, "\ud800"])


def values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(NAMES, inner, max_size=4), max_leaves=12)


JSON_VALUES = values(JSON_LEAVES)


def locations(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside `value` (the root is `()`)."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, item in items:
        yield from locations(item, (*path, key))


def mutate(draw: st.DrawFn, request: Any, odd: bool) -> Any:
    """One change somewhere in the tree: drop, replace, retype, add or grow a field."""
    path = draw(st.sampled_from(list(locations(request))))
    if not path:
        return draw(JSON_VALUES)
    parent = request
    for key in path[:-1]:
        parent = parent[key]
    key, current = path[-1], parent[path[-1]]
    replacement = values(JSON_LEAVES | ODD_LEAVES) if odd else JSON_VALUES
    op = draw(st.sampled_from(["drop", "replace", "null", "wrap", "sibling", "grow"]))
    if op == "drop":
        del parent[key]
    elif op == "replace":
        parent[key] = draw(replacement)
    elif op == "null":
        parent[key] = None
    elif op == "wrap":
        parent[key] = [current]
    elif op == "sibling" and isinstance(parent, dict):
        parent[draw(NAMES)] = draw(replacement)
    elif op == "grow" and isinstance(current, list):
        # past the 1,000-target cap now and then
        parent[key] = current * draw(st.sampled_from([2, 1001]))
    return request


@st.composite
def mutated_requests(draw: st.DrawFn, odd: bool = True) -> Any:
    request = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        request = mutate(draw, request, odd)
    return request


REQUESTS = mutated_requests() | values(JSON_LEAVES | ODD_LEAVES)
JSON_REQUESTS = mutated_requests(odd=False) | JSON_VALUES | st.sampled_from(SEEDS)


# --- what every answer must satisfy ---

def resolves(value: Any, path: str) -> bool:
    """`path` (dotted; a segment that is not a plain name is JSON-quoted) leads into
    `value`: to a field that is there, to a missing field of an object that is (a
    required one), or to the object itself (`_schema`)."""
    return path == "_schema" or _resolves(value, split_path(path))


def split_path(path: str) -> list[str]:
    segments, rest = [], path
    while rest:
        if rest.startswith('"'):
            segment, end = json.JSONDecoder().raw_decode(rest)
        else:
            end = rest.find(".") if "." in rest else len(rest)
            segment = rest[:end]
        segments.append(str(segment))
        rest = rest[end + 1:] if end < len(rest) else ""
    return segments


def _resolves(value: Any, segments: list[str]) -> bool:
    if not segments:
        return True
    if isinstance(value, dict):
        items = {str(key): item for key, item in value.items()}
    elif isinstance(value, list | tuple):
        items = {str(index): item for index, item in enumerate(value)}
    else:
        return False
    head, rest = segments[0], segments[1:]
    if head in items:
        return _resolves(items[head], rest)
    return isinstance(value, dict) and not rest  # a missing (required) field


def assert_field_path_error(request: Any, error: ValidationError) -> None:
    pairs = flatten_messages(error.messages)
    assert pairs, "a ValidationError that names no field"
    assert str(error) == "\n".join(f"{path}: {text}" for path, text in pairs)
    for path, text in pairs:
        assert "\n" not in path + text, f"one error spans lines: {path!r}: {text!r}"
        assert text.strip(), f"{path}: an empty message"
        assert resolves(request, path), f"{path!r} does not lead into the request"


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def stored_request(client: redis.Redis, keys: Keys, job_id: str) -> Any:
    """The request a job's record holds (what will be POSTed), decoded as strictly as
    JSON allows."""
    return strict_json(client.hget(keys.outcome(job_id), "body").decode())


# --- fixtures ---

@pytest.fixture(scope="module")
def fuzz_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("fuzz-redis")
    server = RedisServer(free_port(), workdir / "data", workdir)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def fuzz_settings(fuzz_redis: str) -> Settings:
    return Settings(redis_url=fuzz_redis, key_prefix="fuzz:", queue=QUEUE)


@pytest.fixture(scope="module")
def producer(fuzz_settings: Settings) -> Iterator[Producer]:
    producer = Producer(settings=fuzz_settings)
    yield producer
    producer.close()


@pytest.fixture(scope="module")
def queue(fuzz_settings: Settings) -> Iterator[Queue]:
    client = redis.Redis.from_url(fuzz_settings.redis_url)
    yield Queue(client, Keys(fuzz_settings.key_prefix))
    client.close()


class Queue:
    """Every job waiting, whatever its priority and application."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client, self.keys = client, keys

    def __len__(self) -> int:
        return sum(int(self.client.llen(key))
                   for key in self.client.scan_iter(f"{self.keys.prefix}wait:*"))

    def request_of(self, job_id: str) -> Any:
        return stored_request(self.client, self.keys, job_id)


# --- the properties ---

#: Found by this test, kept as fixed cases: a key holding a line break makes an error line
#: that is not `path: message` (validation prints the key raw).
KEY_WITH_A_LINE_BREAK = {"\n": None}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(request=KEY_WITH_A_LINE_BREAK)
@given(request=REQUESTS)
def test_enqueue_queues_only_valid_jobs_and_names_every_bad_field(
        producer: Producer, queue: Queue, request: Any) -> None:
    before = len(queue)
    try:
        job_id = producer.enqueue(request)
    except ValidationError as error:
        assert len(queue) == before, "a refused request changed the queue"
        assert_field_path_error(request, error)
        return
    assert len(queue) == before + 1
    body = queue.request_of(job_id)
    assert validate(body) == body
    outcome = producer.outcome(job_id)
    assert outcome is not None and outcome["status"] == "queued"


def run_cli(settings: Settings, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "notify_relay", "enqueue", str(path)],
                          env=env, capture_output=True, text=True, timeout=60)


#: What a line of a JSON Lines file can be: a request, or text that is not JSON at all.
LINES = (JSON_REQUESTS.map(lambda r: json.dumps(r, ensure_ascii=False))
         | st.sampled_from(["{", '{"segment": }', "nul", "[1, 2"]))
CLI_ERROR = re.compile(r"^line (\d+): (.+)$")
ARRAY_ERROR = re.compile(r"^index (\d+): (.+)$")
#: Found by this test: a file of one line that is an array of non-requests is an array
#: document, its errors by index.
ONE_ARRAY_LINE = ['[["c", [-2.0], [null, 488]], [108233008]]']


def with_title(title: str) -> str:
    request = json.loads((EXAMPLES / "transactional.json").read_text())
    request["transactional"]["payload"]["content"]["localized_content"]["en"]["ios"][
        "title"] = title
    return json.dumps(request, ensure_ascii=False)


#: Found by this test: U+2028 (or U+0085) may stand raw inside a JSON string, and a JSON
#: Lines file is split at "\n" only; the command split this valid file into four lines.
RAW_LINE_SEPARATOR = [with_title("Code\u2028today"), with_title("Code")]


# Each example is a subprocess (~1-2 s here): few of them, and no shrinking, which would
# run hundreds more; a failure still prints the file's lines.
@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@example(lines=RAW_LINE_SEPARATOR)
@example(lines=ONE_ARRAY_LINE)
@given(lines=st.lists(LINES, min_size=1, max_size=8))
def test_the_enqueue_command_queues_a_file_only_if_every_line_is_valid(
        fuzz_settings: Settings, queue: Queue, tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = len(queue)
    done = run_cli(fuzz_settings, path)
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    if done.returncode == 1:
        assert len(queue) == before, "a refused file changed the queue"
        assert_cli_errors(lines, done.stderr)
        return
    job_ids = done.stdout.split()
    bodies = [queue.request_of(job_id) for job_id in job_ids]
    assert len(job_ids) == len(requests_in(lines)) == len(bodies)
    for body in bodies:
        assert validate(body) == body


def one_array(lines: list[str]) -> list[Any] | None:
    """The requests of a file that is one line holding a JSON array: by the format's rule
    a JSON document (errors by index), not JSON Lines. None for any other file."""
    if len(lines) == 1 and is_json(lines[0]) and isinstance(json.loads(lines[0]), list):
        return list(json.loads(lines[0]))
    return None


def requests_in(lines: list[str]) -> list[Any]:
    array = one_array(lines)
    return lines if array is None else array


def assert_cli_errors(lines: list[str], stderr: str) -> None:
    """Every stderr line is `line N: path: message` (or says line N is not JSON), or
    `index N: path: message` when the file is one JSON array."""
    rows = stderr.splitlines()
    assert rows, "exit 1 without a word"
    array = one_array(lines)
    for row in rows:
        if array is not None:
            match = ARRAY_ERROR.match(row)
            assert match, f"not an `index N: ...` error: {row!r}"
            assert 0 <= int(match[1]) < len(array), row
            continue
        match = CLI_ERROR.match(row)
        assert match, f"not a `line N: ...` error: {row!r}"
        number, rest = int(match[1]), match[2]
        assert 1 <= number <= len(lines), row
        if rest.startswith(("invalid JSON", "not UTF-8")):
            assert not is_json(lines[number - 1]), f"{row}, yet it is: {lines[number - 1]!r}"
            continue
        request = json.loads(lines[number - 1])
        # `path: message`, where the path may itself contain ": " (a key can)
        splits = [i for i in range(len(rest)) if rest.startswith(": ", i)]
        assert any(resolves(request, rest[:i]) for i in splits), row


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
