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
            "--n0", str(JOBS), "--n50", "0", "--layouts", "1x4,1x4@enqueue", "--out", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())
    by_many, by_one = results["e2e"]
    for row in (by_many, by_one):
        assert row["family"] == "notify-relay"
        assert [run["posts"] for run in row["runs"]] == [JOBS]
    assert by_one["layout"] == "1x4@enqueue"
    table = (tmp_path / "results.md").read_text()
    assert "notify-relay 1x4 threads |" in table
    assert "notify-relay 1x4 threads, enqueue path |" in table
