"""Job-by-job reconciliation of what the endpoint saw against what notify-relay recorded.

Inputs: the job ids by marker (each job's request carries a unique marker), every request
the emulator recorded (across its restarts), each job's outcome record with its attempt
log, and the dead-letter store. Each POST is matched to its job by the marker, then to
the attempt that sent it: the last attempt of that job that started before the POST
arrived (attempts of one job never overlap: the claim fences them; the clocks are one).

What the design allows, and so what is checked for every job:

* final: the job ends `succeeded` or `dead`. If not, it is *lost* when no message for it is
  left anywhere (queue, retry park, kombu's unacked), else *stuck* (still held at the end).
* one success: a succeeded job has exactly one `success` attempt, its last one, and the
  endpoint answered that attempt's POST with a 2xx.
* every POST is an attempt: no POST is left without an attempt that sent it, and no
  attempt sent two (a hidden resend would be a send the attempt log cannot explain).
* a 2xx is never ignored: a POST the endpoint answered with a 2xx belongs to the success
  attempt, or to an attempt recorded *ambiguous* (read timeout, reset, or the worker died
  mid-send: "worker lost"), i.e. one whose answer never reached a worker. So a job is
  delivered twice only when the first delivery was recorded as possibly delivered.
* answers agree: an attempt that recorded an HTTP status got that status, and one that
  recorded a status has its POST in the log (except "drain" 503s: see `cluster.py`).
* a late result changes nothing: an attempt flagged `late` (its worker's claim had ended
  when it recorded, e.g. a host cut off from Redis past its lease) follows the "worker
  lost" attempt of the same number that the take-over logged, and counts for neither the
  job's success nor the order of its attempts; its POST is matched and checked as any.
* dead letters agree: a dead job is in the dead-letter store with the same reason, and
  the store holds nothing else.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MARKER_KEY = "fault_probe"
DRAIN_ERROR = "emulated fault: drain"
WORKER_LOST = "worker lost"
FINAL = ("succeeded", "dead")


def marker_of(body: Any) -> str | None:
    """The marker a scenario put in `payload.custom_data` of a request body, if any."""
    if not isinstance(body, dict):
        return None
    kind = body.get("transactional") or body.get("segment")
    payload = kind.get("payload") if isinstance(kind, dict) else None
    custom = payload.get("custom_data") if isinstance(payload, dict) else None
    marker = custom.get(MARKER_KEY) if isinstance(custom, dict) else None
    return marker if isinstance(marker, str) else None


def is_2xx(post: Mapping[str, Any]) -> bool:
    status = post.get("status")
    return isinstance(status, int) and 200 <= status < 300


@dataclass
class JobEvidence:
    """One job's record, attempt log and POSTs, and what is wrong with them."""

    job_id: str
    marker: str
    record: dict[str, Any] | None
    posts: list[dict[str, Any]]
    dead_letter: dict[str, Any] | None
    held: str | None = None  # where a message for it still was at the end, if anywhere
    problems: list[str] = field(default_factory=list)
    sent_by: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    lags_s: list[float] = field(default_factory=list)  # attempt start -> its POST's arrival

    @property
    def status(self) -> str:
        return self.record["status"] if self.record else "unknown"

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return sorted(self.record["attempts"], key=lambda a: a["number"]) if self.record else []

    def describe(self) -> str:
        """The evidence, as a reader of a failed run needs it."""
        lines = [f"job {self.job_id} (marker {self.marker}): status {self.status}"
                 + (f", dead_reason {self.record.get('dead_reason')}"
                    if self.record and self.status == "dead" else "")]
        lines += [f"  problem: {p}" for p in self.problems]
        for a in self.attempts:
            lines.append(
                f"  attempt {a['number']}: {a['outcome']} http={a.get('http_status')} "
                f"ambiguous={a.get('ambiguous')} late={a.get('late', False)} "
                f"started={a['started_at']:.3f} "
                f"ms={a.get('duration_ms')} error={a.get('error')!r}")
        for p in self.posts:
            lines.append(f"  POST seq={p['seq']} at={p['time']:.3f} status={p['status']} "
                         f"fault={p['fault']}")
        return "\n".join(lines)


def check_job(job: JobEvidence) -> None:
    """Fill `job.problems` and `job.sent_by` (attempt number -> its POSTs)."""
    if job.status not in FINAL and job.held:
        job.problems.append(f"stuck: not final (status {job.status}), its message still "
                            f"{job.held} at the end")
    elif job.status not in FINAL:
        job.problems.append(f"lost: not final (status {job.status}), and no message left "
                            "anywhere (queue, retry park, unacked) to make it so")
    attempts = job.attempts
    _match_posts(job, attempts)
    if job.status == "succeeded":
        _check_success(job, [a for a in attempts if not a.get("late")])
    _check_late(job, attempts)
    _check_dead_letter(job)
    for attempt in attempts:
        _check_attempt(job, attempt, job.sent_by.get(attempt["number"], []))


def _match_posts(job: JobEvidence, attempts: list[dict[str, Any]]) -> None:
    for post in sorted(job.posts, key=lambda p: p["time"]):
        started = [a for a in attempts if a["started_at"] <= post["time"]]
        if not started:
            job.problems.append(f"POST seq={post['seq']} was sent before any recorded attempt")
            continue
        job.sent_by.setdefault(started[-1]["number"], []).append(post)
        job.lags_s.append(post["time"] - started[-1]["started_at"])


def _check_success(job: JobEvidence, attempts: list[dict[str, Any]]) -> None:
    successes = [a for a in attempts if a["outcome"] == "success"]
    if len(successes) != 1:
        job.problems.append(f"succeeded with {len(successes)} success attempts")
    elif successes[0] is not attempts[-1]:
        job.problems.append("attempts were recorded after the success attempt")
    for attempt in successes:
        if not any(is_2xx(p) for p in job.sent_by.get(attempt["number"], [])):
            job.problems.append(f"success attempt {attempt['number']} has no 2xx POST")


def _check_late(job: JobEvidence, attempts: list[dict[str, Any]]) -> None:
    taken_over = {a["number"] for a in attempts if WORKER_LOST in (a.get("error") or "")}
    for attempt in attempts:
        if attempt.get("late") and attempt["number"] not in taken_over:
            job.problems.append(f"late attempt {attempt['number']} follows no take-over "
                                "(no worker-lost attempt of its number)")


def _check_attempt(job: JobEvidence, attempt: dict[str, Any],
                   posts: list[dict[str, Any]]) -> None:
    number = attempt["number"]
    if len(posts) > 1:
        job.problems.append(f"attempt {number} sent {len(posts)} POSTs")
    for post in posts:
        if is_2xx(post) and attempt["outcome"] != "success" and not attempt.get("ambiguous"):
            job.problems.append(
                f"POST seq={post['seq']} was answered {post['status']} but attempt {number} "
                f"recorded {attempt['outcome']} without flagging it ambiguous")
        recorded = attempt.get("http_status")
        if recorded is not None and post["status"] is not None and recorded != post["status"]:
            job.problems.append(f"attempt {number} recorded HTTP {recorded}, the endpoint "
                                f"answered {post['status']}")
    if attempt.get("http_status") is not None and not posts and attempt.get("error") != \
            DRAIN_ERROR:
        job.problems.append(f"attempt {number} recorded HTTP {attempt['http_status']} but the "
                            "endpoint has no POST for it")


def _check_dead_letter(job: JobEvidence) -> None:
    if job.status == "dead":
        reason = job.record.get("dead_reason") if job.record else None
        if job.dead_letter is None:
            job.problems.append("dead but not in the dead-letter store")
        elif job.dead_letter.get("reason") != reason:
            job.problems.append(f"dead-letter reason {job.dead_letter.get('reason')} != "
                                f"outcome reason {reason}")
    elif job.dead_letter is not None:
        job.problems.append(f"in the dead-letter store but {job.status}")


@dataclass
class Reconciliation:
    """One scenario's figures, and every job whose evidence breaks a rule above."""

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
