"""The notify HTTP client: one urllib3 connection pool per worker process.

urllib3 directly, not `requests`: a `requests.Session.post` costs about twice the CPU
of the urllib3 call underneath it (hooks, cookies, prepared requests, environment
merging), and the worker uses none of that.

Retries are ours (classify → retry policy), so urllib3's are off: a transparent
retry inside urllib3 could send a notification twice without our attempt log
knowing. Redirects are not followed either: a re-POST is a second send, and it would
carry the token to wherever the redirect points.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies_environment

import certifi
import urllib3
from urllib3.exceptions import HTTPError

from worker.classify import SendResult

NOTIFY_PATH = "/messaging/v2/notify"
_CA_BUNDLE_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


class NotifyClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        pool_size: int,
    ) -> None:
        self.url = base_url.rstrip("/") + NOTIFY_PATH
        # block=False: a burst above pool_size opens extra connections instead of waiting.
        options: dict[str, Any] = {
            "maxsize": pool_size, "block": False, "retries": False,
            "timeout": urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s),
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
            self._target = self.url
        else:
            # A bare pool: a PoolManager parses the URL and looks its pool up on every
            # request, ~40 us of a ~250 us POST.
            self._pool = urllib3.connection_from_url(self.url, **options)
            self._target = urllib3.util.parse_url(self.url).request_uri
        # The token lives only in this header dict, never in a job, log or result.
        self._headers = {"Authorization": f"Token {token}", "Content-Type": "application/json",
                         "Accept": "application/json", "User-Agent": "notify-relay/0.1"}

    def post(self, request: dict[str, Any]) -> SendResult:
        body = json.dumps(request, separators=(",", ":")).encode()
        started = time.perf_counter()
        try:
            response = self._pool.urlopen("POST", self._target, body=body, headers=self._headers,
                                          redirect=False, preload_content=True)
        except (HTTPError, OSError) as exc:  # OSError: anything urllib3 did not wrap
            return SendResult(duration_ms=_ms_since(started), error=_strip(exc))
        return SendResult(
            duration_ms=_ms_since(started),
            status=response.status,
            # itermerged: a repeated header comes back joined, as requests gave it.
            headers={k.lower(): v for k, v in response.headers.itermerged()},
            body=response.data,
        )

    def close(self) -> None:
        if isinstance(self._pool, urllib3.PoolManager):
            self._pool.clear()
        else:
            self._pool.close()


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
