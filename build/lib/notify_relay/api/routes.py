"""The endpoints. Each is a few lines: read and check (body.py), authorise (auth.py), call
the `AsyncProducer`, answer; failures are `ApiError`s and our exception tree (errors.py).

| method, path                   | success                              | else            |
|--------------------------------|--------------------------------------|-----------------|
| POST /v1/notifications         | 202 `{"job_id", "duplicate"}`        | 400 401 403 413 |
|                                |                                      | 415 422 503 507 |
| POST /v1/notifications/batch   | 202 `{"job_ids", "duplicates"}`      | the same        |
| GET /v1/notifications/{job_id} | 200 the outcome (`?wait=S`, S <= 30) | 401 404 422 503 |
| GET /v1/openapi.json           | 200 the OpenAPI 3.1 document         | -               |
| GET /healthz                   | 200 `{"status": "ok"}`               | 503             |

The last two need no key: a load balancer and a client generator read them.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from notify_relay.api import body
from notify_relay.api.auth import ApiKey, Keyring
from notify_relay.api.errors import invalid, refused
from producers.async_producer import AsyncProducer
from producers.enqueue import application_of
from producers.outcomes import is_final

#: `?wait=` holds an answer at most this long.
WAIT_MAX_S = 30.0
#: How often a held answer looks at the record: from the first value, growing by 1.5x.
WAIT_POLL_S = (0.05, 0.5)


def _producer(request: Request) -> AsyncProducer:
    producer: AsyncProducer = request.app.state.producer
    return producer


def authenticate(request: Request) -> ApiKey:
    """The caller's key (its name goes to the access log), or 401."""
    keyring: Keyring = request.app.state.keyring
    key = keyring.authenticate(request.headers.get("authorization"))
    if key is None:
        raise refused(401, "send an API key: Authorization: Bearer <key>",
                      **{"WWW-Authenticate": 'Bearer realm="notify-relay"'})
    request.scope.setdefault("state", {})["api_key"] = key.name
    return key


def authorise(key: ApiKey, requests: list[Any]) -> None:
    """403 when a request names an application the key is not for.

    A request that names none is invalid (`application` is required): validation says so.
    """
    for request in requests:
        application = application_of(request)
        if application and not key.allows(application):
            raise refused(403, f"this key ({key.name}) may not enqueue for application "
                          f"{application!r}")


async def enqueue(request: Request) -> Response:
    key = authenticate(request)
    parsed = await body.read_json(request)
    producer = _producer(request)
    notify, options = body.single(parsed.value, producer.settings)
    idempotency_key = body.idempotency_key(request.headers)
    authorise(key, [notify])
    job_id = await producer.enqueue(notify, priority=options.priority,
                                    idempotency_key=idempotency_key,
                                    expires_in=options.expires_in, strict=options.strict,
                                    off_loop=parsed.large)
    return JSONResponse({"job_id": job_id, "duplicate": job_id.duplicate}, 202)


async def enqueue_batch(request: Request) -> Response:
    key = authenticate(request)
    if "idempotency-key" in request.headers:
        raise invalid({"Idempotency-Key": ["Not taken here: give one key per request in "
                                           "idempotency_keys."]})
    parsed = await body.read_json(request)
    producer = _producer(request)
    requests, keys, options = body.batch(parsed.value, producer.settings)
    authorise(key, requests)
    job_ids = await producer.enqueue_many(requests, priority=options.priority,
                                          idempotency_keys=keys,
                                          expires_in=options.expires_in,
                                          strict=options.strict, off_loop=parsed.large)
    return JSONResponse({"job_ids": job_ids,
                         "duplicates": [job_id.duplicate for job_id in job_ids]}, 202)


async def outcome(request: Request) -> Response:
    key = authenticate(request)
    wait_s = _wait_s(request.query_params.get("wait"))
    job_id = request.path_params["job_id"]
    producer = _producer(request)
    record = await producer.outcome(job_id)
    if record is None or not key.allows(record.get("application", "")):
        raise refused(404, f"unknown job: {job_id} (never enqueued, or its outcome expired)")
    deadline, poll_s = time.monotonic() + wait_s, WAIT_POLL_S[0]
    while not is_final(record) and (left_s := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(poll_s, left_s))
        record = await producer.outcome(job_id) or record
        poll_s = min(WAIT_POLL_S[1], poll_s * 1.5)
    return JSONResponse(record)


def _wait_s(raw: str | None) -> float:
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= WAIT_MAX_S:  # NaN too
        raise invalid({"wait": [f"Must be a number of seconds from 0 to {WAIT_MAX_S:g}."]})
    return value


async def openapi_document(request: Request) -> Response:
    return Response(request.app.state.openapi, media_type="application/json")


async def healthz(request: Request) -> Response:
    await _producer(request).ping()  # QueueUnavailable: 503 with Retry-After
    return JSONResponse({"status": "ok"})


ROUTES = [
    Route("/v1/notifications", enqueue, methods=["POST"]),
    Route("/v1/notifications/batch", enqueue_batch, methods=["POST"]),
    Route("/v1/notifications/{job_id}", outcome, methods=["GET"]),
    Route("/v1/openapi.json", openapi_document, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
]
