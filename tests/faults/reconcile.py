"""Job-by-job reconciliation of what the endpoint saw against what notify-relay recorded.

Inputs: the job ids by marker (each job's request carries a unique marker), every request
the emulator recorded (across its restarts), each job's outcome record with its attempt
log, and the dead-letter store. Each job is held to the rules of rules.py (its docstring
lists them); a `Reconciliation` is the run's figures and the jobs that break a rule.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.faults.rules import (
    DRAIN_ERROR,
    FINAL,
    MARKER_KEY,
    WORKER_LOST,
    JobEvidence,
    check_job,
    is_2xx,
    marker_of,
)

#: What the fault suite's modules take from here (the rules' names among them).
__all__ = ["DRAIN_ERROR", "FINAL", "MARKER_KEY", "WORKER_LOST", "JobEvidence", "Reconciliation",
           "check_job", "dump", "is_2xx", "marker_of", "reconcile"]


@dataclass
class Reconciliation:
    """One scenario's figures, and every job whose evidence breaks a rule of rules.py."""

    scenario: str
    enqueued: int
    succeeded: int
    dead_by_reason: dict[str, int]
    lost: list[str]  # not final, and no message for it anywhere
    stuck: list[str]  # not final, its message still queued, parked or unacked at the end
    posts_per_job: dict[int, int]
    attempt_outcomes: dict[str, int]
    ambiguous_attempts: int
    worker_lost_attempts: int
    late_attempts: int
    extra_deliveries: int
    endpoint_answers: dict[str, int]
    stray_posts: int
    stray_dead_letters: list[str]
    failing: list[JobEvidence]
    worker_lost_jobs: list[str] = field(default_factory=list)  # with a "worker lost" attempt
    injected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    harness_failures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    lags_s: tuple[float, float] = (0.0, 0.0)  # min, max: attempts' starts to their POSTs

    @property
    def problems(self) -> list[str]:
        found = [f"{job.job_id}: {p}" for job in self.failing for p in job.problems]
        if self.stray_posts:
            found.append(f"{self.stray_posts} POSTs carry no marker of an enqueued job")
        found += [f"dead letter {j} is not one of this run's dead jobs"
                  for j in self.stray_dead_letters]
        return found + self.harness_failures

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self, evidence_limit: int = 5) -> str:
        dead = ", ".join(f"{k} {v}" for k, v in sorted(self.dead_by_reason.items())) or "none"
        lines = [
            f"=== reconciliation: {self.scenario} ({self.elapsed_s:.1f} s) ===",
            f"jobs enqueued        {self.enqueued}",
            f"succeeded            {self.succeeded}",
            f"dead                 {sum(self.dead_by_reason.values())} ({dead})",
            f"lost (not final)     {len(self.lost)}",
            f"stuck (not final)    {len(self.stuck)} (message still held at the end)",
            f"POSTs per job        {_histogram(self.posts_per_job)}",
            f"attempts by outcome  {_counts(self.attempt_outcomes)}",
            f"ambiguous attempts   {self.ambiguous_attempts} "
            f"(of which worker lost mid-send: {self.worker_lost_attempts})",
            f"late results         {self.late_attempts} (logged only: the claim had been "
            "taken over)",
            f"extra 2xx deliveries {self.extra_deliveries} (each after an ambiguous attempt)",
            f"start to arrival     {self.lags_s[0]:.3f}..{self.lags_s[1]:.3f} s (an attempt's "
            "start, Redis clock, to its POST at the endpoint)",
            f"endpoint answers     {_counts(self.endpoint_answers)}",
            f"faults injected      {'; '.join(self.injected) or 'none'}",
            *(f"note                 {n}" for n in self.notes),
            f"rule violations      {len(self.problems)}",
        ]
        lines += [job.describe() for job in self.failing[:evidence_limit]]
        if len(self.failing) > evidence_limit:
            lines.append(f"... and {len(self.failing) - evidence_limit} more failing jobs")
        shown = {job.job_id for job in self.failing}
        lines += [p for p in self.problems if p.split(":")[0] not in shown]
        return "\n".join(lines)


def reconcile(
    scenario: str,
    jobs: Mapping[str, str],
    records: Mapping[str, dict[str, Any] | None],
    posts: Iterable[dict[str, Any]],
    dead_letters: Iterable[dict[str, Any]],
    held: Mapping[str, str] | None = None,
) -> Reconciliation:
    """`jobs`: marker -> job id. `records`: job id -> outcome record (None if missing).
    `held`: job id -> where a message for it still was at the end."""
    by_marker: dict[str, list[dict[str, Any]]] = {marker: [] for marker in jobs}
    stray, answers = 0, Counter[str]()
    for post in posts:
        answers[_answer(post)] += 1
        marker = marker_of(post.get("body"))
        if marker in by_marker:
            by_marker[marker].append(post)
        else:
            stray += 1
    letters = {entry["job"]["job_id"]: entry for entry in dead_letters}
    evidence = [JobEvidence(job_id, marker, records.get(job_id), by_marker[marker],
                            letters.pop(job_id, None), (held or {}).get(job_id))
                for marker, job_id in jobs.items()]
    for job in evidence:
        check_job(job)
    return _summarise(scenario, evidence, answers, stray, sorted(letters))


def _summarise(scenario: str, evidence: list[JobEvidence], answers: Counter[str], stray: int,
               stray_letters: list[str]) -> Reconciliation:
    attempts = [a for job in evidence for a in job.attempts]
    lags = [lag for job in evidence for lag in job.lags_s]
    dead = Counter(str(job.record.get("dead_reason")) for job in evidence
                   if job.record and job.status == "dead")
    return Reconciliation(
        scenario=scenario,
        enqueued=len(evidence),
        succeeded=sum(job.status == "succeeded" for job in evidence),
        dead_by_reason=dict(dead),
        lost=[job.job_id for job in evidence if job.status not in FINAL and not job.held],
        stuck=[job.job_id for job in evidence if job.status not in FINAL and job.held],
        posts_per_job=dict(Counter(len(job.posts) for job in evidence)),
        attempt_outcomes=dict(Counter(a["outcome"] for a in attempts)),
        ambiguous_attempts=sum(bool(a.get("ambiguous")) for a in attempts),
        worker_lost_attempts=sum(WORKER_LOST in (a.get("error") or "") for a in attempts),
        late_attempts=sum(bool(a.get("late")) for a in attempts),
        extra_deliveries=sum(max(0, sum(map(is_2xx, job.posts)) - 1) for job in evidence),
        endpoint_answers=dict(answers),
        stray_posts=stray,
        stray_dead_letters=stray_letters,
        failing=[job for job in evidence if job.problems],
        worker_lost_jobs=[job.job_id for job in evidence
                          if any(WORKER_LOST in (a.get("error") or "") for a in job.attempts)],
        lags_s=(min(lags, default=0.0), max(lags, default=0.0)),
    )


def _answer(post: Mapping[str, Any]) -> str:
    """How the endpoint answered, for the report: `200`, `503 drain`, `no answer (close)`."""
    status = "no answer" if post.get("status") is None else str(post["status"])
    return f"{status} {post['fault']}" if post.get("fault") else status


def _histogram(counts: Mapping[int, int]) -> str:
    return "  ".join(f"{posts}:{jobs}" for posts, jobs in sorted(counts.items()))


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def dump(reconciliation: Reconciliation) -> str:
    """The failing jobs' full evidence as JSON lines (written beside the report)."""
    return "\n".join(json.dumps({"job_id": j.job_id, "problems": j.problems,
                                 "record": j.record, "posts": j.posts})
                     for j in reconciliation.failing)
