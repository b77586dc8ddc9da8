"""`GET /v1/openapi.json`: the contract's OpenAPI document (producers/jsonschema.py
`openapi()`), extended with this API's paths, bodies, answers and its bearer keys.

The contract's own path, `POST /messaging/v2/notify`, stays in the document with a
path-level `servers` naming Pushwoosh: it is where the workers send (and what
`NotifyRequest` is the body of), not something this server answers.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from notify_relay.api.body import BATCH_MAX, BODY_LIMIT_BYTES, IDEMPOTENCY_KEY_MAX
from notify_relay.api.routes import WAIT_MAX_S
from producers.job import Priority
from producers.jsonschema import openapi
from producers.outcomes import Attempt, DeadReason, Status

TITLE = "notify-relay HTTP API"
VERSION = "1"
PUSHWOOSH = [{"url": "https://api.pushwoosh.com",
              "description": "Pushwoosh, where the workers send: not served by notify-relay"}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_OPTIONS = {
    "priority": {"type": "string", "enum": [p.value for p in Priority], "default": "normal"},
    "expires_in": {"type": "number", "exclusiveMinimum": 0,
                   "description": "Seconds until the job is too late to send "
                                  "(default NOTIFY_MAX_AGE)."},
    "strict": {"type": "boolean", "default": False,
               "description": "Refuse what the reference does not confirm."},
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Enqueue": {"type": "object", "required": ["request"], "additionalProperties": False,
                "properties": {"request": _ref("NotifyRequest"), **_OPTIONS}},
    "EnqueueBatch": {
        "type": "object", "required": ["requests"], "additionalProperties": False,
        "properties": {
            "requests": {"type": "array", "items": _ref("NotifyRequest"), "minItems": 1,
                         "maxItems": BATCH_MAX},
            "idempotency_keys": {"type": "array", "items": {
                "type": ["string", "null"], "minLength": 1,
                "maxLength": IDEMPOTENCY_KEY_MAX}},
            **_OPTIONS}},
    "Accepted": {"type": "object", "required": ["job_id", "duplicate"], "properties": {
        "job_id": {"type": "string"},
        "duplicate": {"type": "boolean", "description": "The Idempotency-Key was taken "
                      "inside the window: this is the first job's id; nothing was queued."}}},
    "AcceptedBatch": {"type": "object", "required": ["job_ids", "duplicates"], "properties": {
        "job_ids": {"type": "array", "items": {"type": "string"}},
        "duplicates": {"type": "array", "items": {"type": "boolean"}}}},
    "Invalid": {"type": "object", "required": ["errors"], "properties": {"errors": {
        "type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "description": "Messages by dotted field path (a batch: `<index>.<path>`), as "
                       "`notify-relay validate` prints them."}}},
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}}},
    "Attempt": {"type": "object", "properties": {f.name: {} for f in fields(Attempt)}},
    "Outcome": {"type": "object", "required": ["job_id", "status", "attempts"],
                "additionalProperties": True, "properties": {
                    "job_id": {"type": "string"},
                    "status": {"type": "string", "enum": [s.value for s in Status]},
                    "dead_reason": {"type": "string", "enum": [r.value for r in DeadReason]},
                    "application": {"type": "string"}, "priority": {"type": "string"},
                    "enqueued_at": {"type": "number"}, "expires_at": {"type": "number"},
                    "updated_at": {"type": "number"}, "attempt_count": {"type": "integer"},
                    "attempts": {"type": "array", "items": _ref("Attempt")}}},
}

_ERROR = _ref("Error")
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"},
                                "description": "Seconds to wait before retrying."}}
_FAILURES = {
    "400": _json(_ERROR, "The body is not JSON."),
    "401": _json(_ERROR, "No API key, or an unknown one."),
    "403": _json(_ERROR, "The key may not enqueue for that application."),
    "413": _json(_ERROR, f"The body is over {BODY_LIMIT_BYTES:,} bytes."),
    "415": _json(_ERROR, "The body is not application/json."),
    "422": _json(_ref("Invalid"), "Invalid: nothing was queued."),
    "503": {**_json(_ERROR, "Redis is unavailable: retry (with the same Idempotency-Key)."),
            "headers": _RETRY_AFTER},
    "507": _json(_ERROR, "Redis is full: nothing was queued."),
}
_IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                    "schema": {"type": "string", "minLength": 1,
                               "maxLength": IDEMPOTENCY_KEY_MAX},
                    "description": "The same key inside NOTIFY_IDEMPOTENCY_WINDOW gives the "
                                   "first job's id and queues nothing."}


def _post(summary: str, body: str, answer: str) -> dict[str, Any]:
    return {"summary": summary, "security": [{"ApiKey": []}],
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref(body)}}},
            "responses": {"202": _json(_ref(answer), "Queued."), **_FAILURES}}


def _paths() -> dict[str, dict[str, Any]]:
    single = _post("Enqueue one notify request", "Enqueue", "Accepted")
    single["parameters"] = [_IDEMPOTENCY_KEY]
    wait = {"name": "wait", "in": "query", "required": False,
            "schema": {"type": "number", "minimum": 0, "maximum": WAIT_MAX_S},
            "description": "Hold the answer until the job is final or this many seconds "
                           "pass."}
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/v1/notifications": {"post": single},
        "/v1/notifications/batch": {"post": _post(
            "Enqueue several requests: all valid, or none queued", "EnqueueBatch",
            "AcceptedBatch")},
        "/v1/notifications/{job_id}": {"get": {
            "summary": "A job's outcome: status and attempt log",
            "security": [{"ApiKey": []}], "parameters": [job_id, wait],
            "responses": {"200": _json(_ref("Outcome"), "The outcome."),
                          "401": _FAILURES["401"],
                          "404": _json(_ERROR, "Unknown job (or its outcome expired)."),
                          "422": _FAILURES["422"], "503": _FAILURES["503"]}}},
        "/v1/openapi.json": {"get": {"summary": "This document", "responses": {
            "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}}},
        "/healthz": {"get": {"summary": "Redis answers", "responses": {
            "200": _json({"type": "object"}, "Healthy."), "503": _FAILURES["503"]}}},
    }


def document() -> dict[str, Any]:
    """The whole document, as `GET /v1/openapi.json` serves it."""
    doc = openapi()
    doc["info"] = {**doc.get("info", {}), "title": TITLE, "version": VERSION}
    for operations in doc["paths"].values():  # the contract's: Pushwoosh's endpoint
        operations["servers"] = PUSHWOOSH
    doc["paths"].update(_paths())
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {})["ApiKey"] = {
        "type": "http", "scheme": "bearer",
        "description": "Authorization: Bearer <key> (`notify-relay api-key NAME` makes one)"}
    return doc
