"""The notify HTTP client: one urllib3 connection pool per worker process.

urllib3 directly, not `requests`: a `requests.Session.post` costs about twice the CPU
of the urllib3 call underneath it (hooks, cookies, prepared requests, environment
merging), and the worker uses none of that.

Retries are ours (classify → retry policy), so urllib3's are off: a transparent
retry inside urllib3 could send a notification twice without our attempt log
knowing. Redirects are not followed either: a re-POST is a second send, and it would
carry the token to wherever the redirect points.

What a server can do to a send is bounded (security review, December 2026):
- time: connect + read is one wall-clock budget per send (H1, worker/deadline.py);
- memory: the body is read raw (`Accept-Encoding: identity`, nothing decoded) and
  only up to MAX_BODY_BYTES (M2);
- the token: a header http.client refuses is reported with a fixed text (M1).
"""

from __future__ import annotations

import os
import time
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies_environment

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError

from producers.wire import request_json
from worker import deadline
from worker.classify import RequestHeaderError, SendDeadlineError, SendResult

NOTIFY_PATH = "/messaging/v2/notify"
_CA_BUNDLE_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
#: M2: the code needs only the JSON envelope (a message code, or code + message); a body
#: past this is not read. Measured before the cap: 200 KB of gzip became 200 MB in a worker.
MAX_BODY_BYTES = 64 * 1024
_READ_CHUNK_BYTES = 16 * 1024
#: M1: fixed, since the value http.client refused is the Authorization header.
OVER_CAP = f"body over {MAX_BODY_BYTES} bytes, not read"
HEADER_REFUSED = ("request not sent: http.client refused a request header (PUSHWOOSH_API_TOKEN "
                  "has a character an HTTP header cannot carry)")


class _WatchedHTTPConnection(HTTPConnection):
    """Binds itself to the sending thread's deadline (worker/deadline.py) before and after
    connecting and before writing: HTTPS connects before `request`, HTTP inside it, and a
    connection made after the deadline must send nothing."""

    def connect(self) -> None:
        deadline.attach(self)
        super().connect()
        deadline.attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline.attach(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        deadline.attach(self)
        super().connect()
        deadline.attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline.attach(self)
        super().request(*args, **kwargs)


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        deadline.detach(conn)
        super()._put_conn(conn)


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        deadline.detach(conn)
        super()._put_conn(conn)


_POOLS: dict[str, type[urllib3.HTTPConnectionPool]] = {"http": _HTTPPool, "https": _HTTPSPool}


class PostClient:
    """POSTs to one URL through one pool, each send under one wall-clock deadline.

    What both clients share (the notify endpoint's, and the webhooks' own: worker/webhooks):
    the pool, the deadline, the capped body read, the proxy and trust settings."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        pool_size: int,
        deadline_s: float | None = None,
        reaper_name: str = "notify-deadline",
    ) -> None:
        self.url = url
        # H1: one budget for the whole send, connect included (default connect + read:
        # what settings already keep under the claim lease).
        self.deadline_s = connect_timeout_s + read_timeout_s if deadline_s is None else deadline_s
        self._reaper = deadline.Reaper(reaper_name)
        # block=False: a burst above pool_size opens extra connections instead of waiting.
        options: dict[str, Any] = {
            "maxsize": pool_size, "block": False, "retries": False,
            "timeout": urllib3.Timeout(connect=min(connect_timeout_s, self.deadline_s),
                                       read=min(read_timeout_s, self.deadline_s)),
        }
        if self.url.startswith("https:"):
            # The same trust as the requests-based client had: an explicit bundle from
            # the environment, else certifi's (not the OS store, which slim images may lack).
            bundle = next((os.environ[v] for v in _CA_BUNDLE_VARS if os.environ.get(v)),
                          certifi.where())
            # requests also took a directory of hashed certificates (c_rehash) here.
            options["ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"] = bundle
        # Proxy settings from the environment (incl. no_proxy), read once; nothing looks
        # at the environment per request.
        proxy = _environ_proxy(self.url)
        self._pool: urllib3.HTTPConnectionPool | urllib3.ProxyManager
        if proxy:
            # The manager knows both proxy forms (absolute URL for http, CONNECT for https).
            auth = urllib3.util.parse_url(proxy).auth
            if auth:
                options["proxy_headers"] = urllib3.make_headers(proxy_basic_auth=unquote(auth))
            self._pool = urllib3.ProxyManager(proxy, num_pools=1, **options)
            self._pool.pool_classes_by_scheme = _POOLS
            self._target = self.url
        else:
            # A bare pool: a PoolManager parses the URL and looks its pool up on every
            # request, ~40 us of a ~250 us POST.
            self._pool = _bare_pool(self.url, options)
            self._target = urllib3.util.parse_url(self.url).request_uri
        # identity: a body is read as sent, never inflated (M2).
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "Accept-Encoding": "identity", "User-Agent": "notify-relay/0.1",
                         **headers}

    def send(self, body: bytes, headers: dict[str, str] | None = None) -> SendResult:
        """POST `body` as it is, with this client's headers and `headers`."""
        if headers:
            headers = {**self._headers, **headers}
        started = time.perf_counter()
        watch = self._reaper.arm(self.deadline_s)
        try:
            try:
                response = self._pool.urlopen(
                    "POST", self._target, body=body, headers=headers or self._headers,
                    redirect=False,
                    preload_content=False, decode_content=False)
            except (HTTPError, OSError) as exc:  # OSError: anything urllib3 did not wrap
                return self._failed(started, watch, exc)
            except ValueError:  # M1, incl. UnicodeError: its text holds the header, the token
                return SendResult(duration_ms=_ms_since(started),
                                  error=RequestHeaderError(HEADER_REFUSED))
            return self._answer(response, started, watch)
        finally:
            self._reaper.disarm(watch)

    def _answer(self, response: Any, started: float, watch: deadline.Watch) -> SendResult:
        try:
            content, skipped = _read_capped(response, watch)
        except (HTTPError, OSError, ValueError, SendDeadlineError) as exc:
            failed = self._failed(started, watch, exc)
            _drop(response)
            return failed
        if self._reaper.disarm(watch):
            # The shutdown's EOF can pass for the end of the headers or of a body
            # without a length: what was read is not the server's whole answer.
            _drop(response)
            return self._failed(started, watch, SendDeadlineError())
        if skipped:
            _drop(response)
        else:
            response.release_conn()
        return SendResult(
            duration_ms=_ms_since(started),
            status=response.status,
            # itermerged: a repeated header comes back joined, as requests gave it.
            headers={k.lower(): v for k, v in response.headers.itermerged()},
            body=content,
            body_skipped=skipped,
        )

    def _failed(self, started: float, watch: deadline.Watch, exc: BaseException) -> SendResult:
        """The send's error; the deadline's own (ambiguous) once it passed: the reaper
        cut the socket, or refused to start the request (deadline.DeadlinePassed)."""
        self._reaper.disarm(watch)
        if watch.fired or isinstance(exc, SendDeadlineError):
            error: BaseException = SendDeadlineError(
                f"send deadline of {self.deadline_s:g} s passed; connection closed")
        else:
            error = _strip(exc)
        return SendResult(duration_ms=_ms_since(started), error=error)

    def close(self) -> None:
        self._reaper.stop()
        if isinstance(self._pool, urllib3.PoolManager):
            self._pool.clear()
        else:
            self._pool.close()


class NotifyClient(PostClient):
    """The notify endpoint's client: its URL, and the token in its one header dict."""

    def __init__(self, base_url: str, token: str, *, connect_timeout_s: float,
                 read_timeout_s: float, pool_size: int, deadline_s: float | None = None) -> None:
        # The token lives only in this header dict, never in a job, log or result.
        super().__init__(base_url.rstrip("/") + NOTIFY_PATH, {"Authorization": f"Token {token}"},
                         connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s,
                         pool_size=pool_size, deadline_s=deadline_s)

    def post(self, request: dict[str, Any] | bytes) -> SendResult:
        """POST a request: as stored at enqueue (bytes, sent as they are), or a dict."""
        body = (request if isinstance(request, bytes)
                else request_json(request).encode("ascii"))  # what validate() measured (L5)
        return self.send(body)


def _bare_pool(url: str, options: dict[str, Any]) -> urllib3.HTTPConnectionPool:
    """What `urllib3.connection_from_url` builds, with connections that honour the deadline."""
    parsed = urllib3.util.parse_url(url)
    scheme = parsed.scheme or "http"
    port = parsed.port or urllib3.connectionpool.port_by_scheme.get(scheme, 80)
    if not parsed.host:
        raise ValueError("the notify URL has no host")
    return _POOLS[scheme](parsed.host, port=port, **options)


def _read_capped(response: Any, watch: deadline.Watch) -> tuple[bytes, str | None]:
    """(body, None), or (b"", why) for a body over MAX_BODY_BYTES (M2), never holding
    more than MAX_BODY_BYTES + 1 bytes. The body is read in chunks against the deadline;
    a read blocked past it is cut by the reaper (H1)."""
    length = _declared_length(response)
    if length is not None and length > MAX_BODY_BYTES:
        return b"", OVER_CAP  # not drained: reading it is what the cap avoids
    want = MAX_BODY_BYTES + 1 if length is None else length
    chunks: list[bytes] = []
    size = 0
    while size < want:
        chunk = response.read(min(_READ_CHUNK_BYTES, want - size), decode_content=False)
        if not chunk:
            break  # EOF ends a body without a length (a short declared one raised)
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() >= watch.at:
            raise SendDeadlineError("send deadline passed while reading the body")
    return (b"", OVER_CAP) if size > MAX_BODY_BYTES else (b"".join(chunks), None)


def _declared_length(response: Any) -> int | None:
    """The Content-Length as urllib3 read it (None: chunked, absent or invalid)."""
    length = getattr(response, "length_remaining", None)
    return length if isinstance(length, int) else None


def _drop(response: Any) -> None:
    """Close the connection (not back to the pool half-read, not drained) and release it.

    release_conn() alone would keep the socket open and the server dripping (H1)."""
    response.close()
    response.release_conn()


def _environ_proxy(url: str) -> str | None:
    """The proxy `*_proxy` / `all_proxy` name for `url`, unless `no_proxy` covers its host.

    The standard library's reading, not `requests.utils` (which would import all of
    requests, ~5 MB per worker process, for two functions); it differs only in not
    taking CIDR ranges in `no_proxy`.
    """
    parts = urlsplit(url)
    proxies = getproxies_environment()
    host = parts.netloc.rpartition("@")[2]
    # proxy_bypass_environment exists on every platform but typeshed leaves it out.
    if urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


#: What an error may keep: plain data, and other errors (which are stripped in turn).
_KEEP = (str, bytes, int, float, type(None), BaseException)


def _strip(exc: BaseException) -> BaseException:
    """Make the error safe to keep: nothing in it may reach the Authorization header.

    urllib3 errors hold live objects (MaxRetryError/ReadTimeoutError.pool,
    NewConnectionError.conn, InvalidChunkLength.response), and every traceback holds
    frames whose locals include our header dict. So, through the whole chain (args,
    attributes, causes), tracebacks go and any attribute or arg that is not plain data
    or another exception is dropped; an arg becomes its text, so str(exc) reads the same.
    """
    stack, seen = [exc], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        for name, value in list(vars(current).items()):
            if not isinstance(value, _KEEP):
                setattr(current, name, None)
        if not all(isinstance(arg, _KEEP) for arg in current.args):
            current.args = tuple(a if isinstance(a, _KEEP) else str(a) for a in current.args)
        linked = (*current.args, *vars(current).values(), current.__cause__, current.__context__)
        stack.extend(item for item in linked if isinstance(item, BaseException))
    return exc
