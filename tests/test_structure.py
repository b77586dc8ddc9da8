"""The layout rules the code's structure depends on (DESIGN.md, worker/store/__init__.py).

* Importing a pure module or the CLI starts no Celery app and reads no environment:
  only `worker.celery` builds the app.
* Every Redis script is a `.lua` file, called through `producers.scripts`.
* `producers` (what applications import) holds no worker protocol: the claim and lease
  scripts live with the worker's stores, and `producers` never imports `worker`.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PACKAGES = ("producers", "worker", "emulator", "notify_relay")


def python_files(*packages: str) -> list:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("module", ["worker.classify", "worker.decide", "worker.store",
                                    "worker.delivery", "notify_relay.cli", "producers",
                                    "notify_relay.api.app"])
def test_importing_a_module_other_than_worker_celery_loads_no_celery(module: str) -> None:
    probe = (f"import sys, {module}; "
             "print(sorted(m for m in sys.modules if m == 'celery' or m.startswith('celery.')))")
    # A broken environment must not matter either: nothing is read from it at import.
    env = {"PATH": "/usr/bin:/bin", "NOTIFY_RATE_LIMIT": "not a rate", "PYTHONPATH": str(ROOT)}
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_no_python_file_holds_a_redis_script() -> None:
    needle = "redis" + ".call("  # spelled apart, or this file would hold it
    holders = [path.relative_to(ROOT) for path in python_files(*PACKAGES, "benchmarks", "tests")
               if needle in path.read_text()]
    assert holders == []


def test_the_claim_and_lease_protocol_lives_with_the_worker_stores() -> None:
    producer_lua = " ".join(p.read_text() for p in (ROOT / "producers").rglob("*.lua"))
    assert "lease_until" not in producer_lua
    assert (ROOT / "worker" / "store" / "lua" / "claim.lua").is_file()


def test_producers_never_import_worker() -> None:
    offenders = []
    for path in python_files("producers"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names
                          if name == "worker" or name.startswith("worker.")]
    assert offenders == []
