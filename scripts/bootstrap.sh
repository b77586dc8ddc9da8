#!/usr/bin/env bash
# Set up a fresh machine: a venv with the project and its dev extra, and a Redis
# answering on 127.0.0.1:6379 (started here, and installed with apt-get if missing).
# As root, also what the fault suite's simulated hosts need (apt-get, when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=no
apt_install() {  # apt_install PACKAGE...: `apt-get update` once per bootstrap, then install
  if [ "$apt_updated" = no ]; then
    apt-get update -qq >/dev/null
    apt_updated=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing notify-relay[dev] into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

redis_up() { .venv/bin/python -c "import redis; redis.Redis(socket_timeout=1).ping()" 2>/dev/null; }
if ! redis_up; then
  if ! command -v redis-server >/dev/null; then
    echo "bootstrap: installing redis-server with apt-get"
    apt_install redis-server
  fi
  echo "bootstrap: starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
  redis_up || { echo "bootstrap: redis did not start" >&2; exit 1; }
fi

# tests/api/test_curl.py: a client that is not Python enqueues through the HTTP API.
if ! command -v curl >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing curl with apt-get (the HTTP API's curl test)"
    apt_install curl
  else
    echo "bootstrap: curl is missing (not root: the curl test skips)" >&2
  fi
fi

# tests/dashboard: the dashboard's pages in a real headless Chromium (Debian's chromium and
# chromium-driver; a browser downloaded at test time is not an option). Not root: they skip.
if [ "$(id -u)" = 0 ]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]} with apt-get (the dashboard's browser tests)"
    apt_install "${missing[@]}"
  fi
fi

# tests/faults/hosts.py: network namespaces, veths and iptables inside them (iproute2,
# iptables), a wall-clock offset per host (faketime; gcc and libc headers build the small
# preload fix in tests/faults/monosleep.c). Not root: those tests skip (CI is root: they run).
if [ "$(id -u)" = 0 ]; then
  missing=()
  command -v ip >/dev/null || missing+=(iproute2)
  command -v iptables-restore >/dev/null || missing+=(iptables)
  compgen -G "/usr/lib/*/faketime/libfaketime.so.1" >/dev/null || missing+=(faketime)
  command -v gcc >/dev/null || missing+=(gcc)
  [ -e /usr/include/dlfcn.h ] || missing+=(libc6-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]} with apt-get (the fault suite's simulated hosts)"
    apt_install "${missing[@]}"
  fi
fi
