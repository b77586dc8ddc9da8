"""The pages (paths under /ui). Each reads through reads.py in a thread and renders.

| method, path           | page                                                           |
|------------------------|----------------------------------------------------------------|
| GET  /ui/              | overview: backlog, sends per minute, budget, circuit, workers  |
| GET  /ui/dead          | dead letters, newest first; filters reason, application, age   |
| GET  /ui/jobs?id=ID    | job lookup: redirects to the job's page                        |
| GET  /ui/jobs/{id}     | a job: summary, outcome, dead letter, the attempt log          |
| GET  /ui/dead/confirm  | control only: what a replay / purge would touch, and its form  |
| POST /ui/dead/replay   | control only, CSRF token: replay one job or all that match     |
| POST /ui/dead/purge    | control only, CSRF token: purge one job or all that match      |
| GET  /ui/static/...    | the stylesheet (shipped in the package: no CDN)                |

Read-only (no --allow-control): no button, and the last three answer 403. A POST
without the right `csrf` field answers 403 and changes nothing.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from notify_relay.dashboard import reads
from notify_relay.dashboard.auth import Gate
from notify_relay.dashboard.chart import CLASSES, sends_chart
from producers.outcomes import DEAD_REASONS, is_final
from worker.store import Stores

PREFIX = "/ui"
#: The overview reloads itself this often.
REFRESH_S = 10
#: A form body is a few short fields.
FORM_MAX_BYTES = 16 * 1024
JOB_ID_MAX = 200
ACTIONS = ("replay", "purge")
JOB_FIELDS = [("status", "status"), ("kind", "kind"), ("application", "application"),
              ("priority", "priority"), ("enqueued_at", "enqueued"),
              ("expires_at", "expires"), ("updated_at", "updated"),
              ("next_attempt_at", "next attempt"), ("replayed_at", "replayed"),
              ("attempt_count", "attempts"), ("dead_reason", "dead reason"),
              ("last_error", "last error"), ("message_code", "message code")]


def _gate(request: Request) -> Gate:
    gate: Gate = request.app.state.gate
    return gate


def _stores(request: Request) -> Stores:
    stores: Stores = request.app.state.stores
    return stores


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    pages: Jinja2Templates = request.app.state.templates
    gate = _gate(request)
    base = {"prefix": PREFIX, "page": "", "user": request.state.dashboard_user,
            "control": gate.control}
    return pages.TemplateResponse(request, template, {**base, **context},
                                  status_code=status_code)


def message(request: Request, status_code: int, heading: str, text: str,
            back: str | None = None) -> Response:
    return render(request, "message.html", status_code, heading=heading, message=text,
                  back=back)


async def overview(request: Request) -> Response:
    snapshot = await run_in_threadpool(reads.overview, _stores(request))
    return render(request, "overview.html", page="overview", s=snapshot,
                  chart=sends_chart(snapshot["sends_per_minute"]), classes=CLASSES,
                  refresh_s=REFRESH_S)


async def dead_list(request: Request) -> Response:
    try:
        filters = reads.Filters.parse(dict(request.query_params))
    except reads.BadFilter as exc:
        return message(request, 400, "Bad filter", str(exc), back=f"{PREFIX}/dead")
    rows, more = await run_in_threadpool(reads.dead_rows, _stores(request), filters)

    def query(**extra: str) -> str:
        return urlencode({**filters.query(), **extra})

    return render(request, "dead.html", page="dead", rows=rows, more=more, filters=filters,
                  reasons=DEAD_REASONS, query=query)


async def lookup(request: Request) -> Response:
    job_id = (request.query_params.get("id") or "").strip()
    if not job_id or len(job_id) > JOB_ID_MAX:
        return message(request, 400, "Job lookup", "Give a job id.", back=f"{PREFIX}/")
    return RedirectResponse(f"{PREFIX}/jobs/{quote(job_id, safe='')}", 303)


async def job_page(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    if len(job_id) > JOB_ID_MAX:
        return message(request, 400, "Job lookup", "That is no job id.")
    job = await run_in_threadpool(reads.job, _stores(request), job_id)
    if job is None:
        return message(request, 404, "Unknown job",
                       f"No job {job_id}: never enqueued, or its outcome expired.",
                       back=f"{PREFIX}/")
    final = job.get("status") is None or is_final(job)
    return render(request, "job.html", job=job, fields=JOB_FIELDS, final=final)


def _read_only(request: Request) -> Response | None:
    if _gate(request).control:
        return None
    return message(request, 403, "Read-only", "This dashboard is read-only: replay and "
                   "purge need `notify-relay api --allow-control`.")


async def confirm(request: Request) -> Response:
    if (refused := _read_only(request)) is not None:
        return refused
    params = dict(request.query_params)
    action, job_id = params.get("action"), params.get("job") or None
    if action not in ACTIONS:
        return message(request, 400, "Confirm", "Nothing to confirm.", back=f"{PREFIX}/dead")
    try:
        filters = reads.Filters() if job_id else reads.Filters.parse(params)
    except reads.BadFilter as exc:
        return message(request, 400, "Bad filter", str(exc), back=f"{PREFIX}/dead")
    entries = await run_in_threadpool(reads.targets, _stores(request), filters, job_id)
    back = (f"{PREFIX}/jobs/{quote(job_id, safe='')}" if job_id
            else f"{PREFIX}/dead?{urlencode(filters.query())}")
    return render(request, "confirm.html", action=action, job_id=job_id, filters=filters,
                  count=len(entries), back=back,
                  as_of=f"{time.time():.3f}",
                  csrf=_gate(request).csrf_token(request.state.dashboard_user))


async def act(request: Request) -> Response:
    """POST /ui/dead/replay or /ui/dead/purge, from the confirmation page's form."""
    if (refused := _read_only(request)) is not None:
        return refused
    form = await _form(request)
    if form is None:
        return message(request, 400, "Refused", "Send the confirmation page's form.")
    if not _gate(request).csrf_ok(request.state.dashboard_user, form.get("csrf")):
        return message(request, 403, "Refused", "The form's CSRF token is missing or wrong: "
                       "nothing was changed. Reload the confirmation page and try again.")
    action, job_id = request.path_params["action"], form.get("job") or None
    if action not in ACTIONS:
        return message(request, 404, "Not found", "No such action.")
    try:
        filters = reads.Filters() if job_id else reads.Filters.parse(form)
    except reads.BadFilter as exc:
        return message(request, 400, "Bad filter", str(exc), back=f"{PREFIX}/dead")
    as_of = _as_of(form.get("as_of"))
    done = await run_in_threadpool(_do, _stores(request), action, filters, job_id, as_of)
    if job_id and action == "replay":
        return RedirectResponse(f"{PREFIX}/jobs/{quote(job_id, safe='')}", 303)
    word = "replayed" if action == "replay" else "purged"
    return message(request, 200, f"{done} {word}", f"{done} dead letter(s) {word}.",
                   back=f"{PREFIX}/dead")


def _as_of(raw: str | None) -> float | None:
    try:
        return float(raw or "")
    except ValueError:
        return None


def _do(stores: Stores, action: str, filters: reads.Filters, job_id: str | None,
        as_of: float | None) -> int:
    entries = reads.targets(stores, filters, job_id, as_of)
    return reads.replay(stores, entries) if action == "replay" else reads.purge(stores, entries)


async def _form(request: Request) -> dict[str, str] | None:
    """An urlencoded form body (small), or None."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
            "application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return None


ROUTES = [
    Route("/", overview, methods=["GET"]),
    Route("/dead", dead_list, methods=["GET"]),
    Route("/dead/confirm", confirm, methods=["GET"]),
    Route("/dead/{action:str}", act, methods=["POST"]),
    Route("/jobs", lookup, methods=["GET"]),
    Route("/jobs/{job_id:str}", job_page, methods=["GET"]),
]
