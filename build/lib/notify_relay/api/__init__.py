"""The HTTP API: enqueue and read outcomes from any language (`notify-relay api`).

| module      | concern                                                            |
|-------------|--------------------------------------------------------------------|
| app.py      | the ASGI app: routes, error handlers, the AsyncProducer, lifespan  |
| routes.py   | the endpoints (their table is in its docstring)                    |
| body.py     | reading a body: 415, 413, 400, the envelope's 422                  |
| auth.py     | API keys (NOTIFY_API_KEYS), 401 / 403, the NOTIFY_API_LOCAL guard  |
| errors.py   | every failure's status and JSON shape                              |
| access.py   | one log line and one counter per request                           |
| openapi.py  | GET /v1/openapi.json                                               |
| server.py   | uvicorn: workers, logging, graceful shutdown                       |

The server: **uvicorn** (with httptools and uvloop) running a **Starlette** app. uvicorn
is the reference ASGI server (encode, the authors of httpx and Starlette), runs in
production behind FastAPI and Starlette deployments everywhere, and has what a service
needs built in: `--workers` with restarts, graceful shutdown on SIGTERM, keep-alive and
backpressure limits; with httptools and uvloop it is among the fastest Python servers,
and all three install as wheels (no compiler) from a plain `pip install notify-relay`.
Starlette adds only routing, requests and responses: small (it depends on anyio alone),
no validation layer of its own, so the request contract stays marshmallow's
(`producers.validate`) with its exact paths and messages. The endpoints await
`producers.AsyncProducer`: an event loop serves many requests while Redis answers.

Rejected: FastAPI (pydantic models would be a second validation of the contract, with
their own 422 shape); a WSGI server (gunicorn + Flask: one blocked thread per request,
and the sync `Producer`, where the issue asks for the async one); aiohttp (a fine
server, but a framework and client of its own, and not ASGI); Hypercorn (slower, and
HTTP/2 is not needed behind a proxy); Granian (a fast Rust server, but younger, and its
process model is less proven than uvicorn's); tornado (already installed for Flower,
but slower and not ASGI, so no Starlette or standard middleware).
"""
