"""The benchmark harness still runs: its smallest end-to-end case, notify-relay only.

No timing is asserted (timing goals live in the benchmark results, not in tests); this
only keeps `python -m benchmarks` from rotting. It starts its own redis-server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JOBS = 20


@pytest.mark.integration
def test_the_smallest_end_to_end_benchmark_runs_and_writes_its_results(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: CI must provide it")
        pytest.skip("redis-server is not installed")
    argv = [sys.executable, "-m", "benchmarks", "--only", "e2e", "--no-peers", "--runs", "1",
            "--n0", str(JOBS), "--n50", "0", "--layouts", "1x4", "--out", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())
    [row] = results["e2e"]
    assert row["family"] == "notify-relay"
    assert [run["posts"] for run in row["runs"]] == [JOBS]
    assert "notify-relay 1x4" in (tmp_path / "results.md").read_text()
