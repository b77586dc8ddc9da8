#!/usr/bin/env bash
# Set up a fresh machine: a venv with the project and its dev extra, and a Redis
# answering on 127.0.0.1:6379 (started here, and installed with apt-get if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

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
    (apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null
  fi
  echo "bootstrap: starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
  redis_up || { echo "bootstrap: redis did not start" >&2; exit 1; }
fi
