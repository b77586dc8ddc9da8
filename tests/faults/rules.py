"""The rules the reconciliation (reconcile.py) holds each job to, and the evidence they read.

Each POST is matched to its job by the marker, then to the attempt that sent it: the last
attempt of that job that started before the POST arrived (attempts of one job never
overlap: the claim fences them; attempts are on Redis's clock, POSTs on the emulator's, the
same machine's: the clocks are one).

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

from collections.abc import Mapping
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
