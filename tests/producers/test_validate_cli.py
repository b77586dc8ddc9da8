"""`notify-relay validate` and `notify-relay schema`, driven through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from notify_relay.cli import contract

CORPUS = Path(__file__).parent / "corpus"
VALID = [case["request"] for case in json.loads((CORPUS / "valid.json").read_text("utf-8"))]


def run(command: Any, *args: str, stdin: str | bytes | None = None) -> Result:
    return CliRunner().invoke(command, list(args), input=stdin)


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def test_a_valid_json_lines_file_exits_0(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps(request) for request in VALID) + "\n"
    result = run(contract.validate, write(tmp_path, "ok.jsonl", lines))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"{len(VALID)} requests checked: {len(VALID)} valid, 0 invalid" in result.stderr


def test_each_bad_line_is_reported_with_its_number_and_fields(tmp_path: Path) -> None:
    good = json.dumps(VALID[0])
    no_platforms = json.loads(good)
    del no_platforms["segment"]["platforms"]
    text = "\n".join(
        [good, "", json.dumps(no_platforms), '{"segment": ', good, '{"a": 1, "a": 2}', "[1]"]
    )
    result = run(contract.validate, write(tmp_path, "mixed.jsonl", text))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "line 3: segment.platforms: Missing data for required field.",
        "line 4: invalid JSON: Expecting value (column 1)",
        "line 6: invalid JSON: duplicate key 'a'",
        "line 7: _schema: Not a valid object: a request is a JSON object, not list.",
    ]
    assert "6 requests checked: 2 valid, 4 invalid" in result.stderr


def test_a_pretty_printed_request_is_one_request(tmp_path: Path) -> None:
    text = "\n\n" + json.dumps(VALID[0], indent=2)
    assert run(contract.validate, write(tmp_path, "one.json", text)).exit_code == 0
    broken = text.replace('"code"', '"kode"')
    result = run(contract.validate, write(tmp_path, "bad.json", broken))
    assert result.exit_code == 1
    assert result.stdout == "line 3: segment.kode: Unknown field; did you mean 'code'?\n" + (
        "line 3: segment: Exactly one of code, expression, filter_expression is required.\n"
    )


def test_a_broken_pretty_printed_file_is_one_json_error(tmp_path: Path) -> None:
    text = json.dumps(VALID[0], indent=2)[:-3]
    result = run(contract.validate, write(tmp_path, "cut.json", text))
    assert result.exit_code == 1
    assert result.stdout.startswith("line 1: invalid JSON: ")
    assert len(result.stdout.splitlines()) == 1


def test_a_json_array_reports_indexes(tmp_path: Path) -> None:
    text = json.dumps([VALID[0], {"segment": []}], indent=1)
    result = run(contract.validate, write(tmp_path, "all.json", text))
    assert result.exit_code == 1
    assert result.stdout == "index 1: segment: Not a valid object.\n"


def test_stdin_strict_and_max_targets_options() -> None:
    request = {
        "transactional": {
            "application": "ABCDE-12345",
            "platforms": ["IOS"],
            "users": {"list": ["a", "b", "c"]},
            "payload": {"silent": True},
            "schedule": {"after": "0s", "follow_user_timezone": True},
        }
    }
    line = json.dumps(request)
    assert run(contract.validate, "-", stdin=line).exit_code == 0
    strict = run(contract.validate, "--strict", "-", stdin=line)
    assert strict.stdout == (
        "line 1: transactional.schedule.follow_user_timezone: "
        "Not confirmed by the reference; not accepted in strict mode.\n"
    )
    capped = run(contract.validate, "--max-targets", "2", "-", stdin=line)
    assert capped.stdout == "line 1: transactional.users.list: At most 2 items, got 3.\n"


def test_warnings_are_printed_on_request_but_do_not_fail(tmp_path: Path) -> None:
    request = json.loads(json.dumps(VALID[0]))
    request["segment"]["platforms"] = ["IOS"]
    path = write(tmp_path, "warn.json", json.dumps(request))
    assert run(contract.validate, path).stdout == ""
    result = run(contract.validate, "--warnings", path)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "line 1: warning: segment.payload.content.localized_content.default.android:"
        " ANDROID is not in platforms; this block is not used (§7).",
        "line 1: warning: segment.payload.content.localized_content.es.android:"
        " ANDROID is not in platforms; this block is not used (§7).",
    ]


def test_invalid_utf8_and_nan_are_bad_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "bytes.jsonl", b'{"a": "\xff"}\n{"a": NaN}\n')
    result = run(contract.validate, path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "line 1: not UTF-8 text",
        "line 2: invalid JSON: NaN is not JSON",
    ]


@pytest.mark.parametrize("args", [["missing.json"], ["."], [], ["--max-targets", "0", "-"]])
def test_usage_errors_and_unreadable_files_exit_2(args: list[str]) -> None:
    assert run(contract.validate, *args, stdin="").exit_code == 2


def test_a_read_error_midway_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(stream: Any) -> Any:
        yield contract.Item("line 1", VALID[0])
        raise OSError("Input/output error")

    monkeypatch.setattr(contract, "read_items", failing)
    result = run(contract.validate, write(tmp_path, "any.jsonl", "{}"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "Input/output error" in result.stderr


def test_an_empty_file_has_nothing_invalid(tmp_path: Path) -> None:
    result = run(contract.validate, write(tmp_path, "empty.jsonl", "\n \n"))
    assert result.exit_code == 0
    assert "0 requests checked" in result.stderr


def test_progress_is_reported_for_a_large_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "big.jsonl", (json.dumps(VALID[0]) + "\n") * 50)
    assert "validating" not in run(contract.validate, path).stderr
    monkeypatch.setattr(contract, "LARGE_FILE_BYTES", 1000)
    reports = [line for line in run(contract.validate, path).stderr.splitlines() if "%" in line]
    assert reports[-1] == "validating: 100%"
    assert 5 <= len(reports) <= 11
    assert "validating" not in run(contract.validate, "--no-progress", path).stderr


@pytest.mark.parametrize(("form", "key"), [("jsonschema", "$schema"), ("openapi", "openapi")])
def test_schema_prints_a_json_document(form: str, key: str) -> None:
    result = run(contract.schema, "--format", form)
    assert result.exit_code == 0
    assert key in json.loads(result.stdout)


def test_schema_strict_and_bad_format() -> None:
    strict = json.loads(run(contract.schema, "--strict").stdout)
    assert strict["title"].endswith("(strict mode)")
    assert run(contract.schema, "--format", "yaml").exit_code == 2
