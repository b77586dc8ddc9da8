"""docker/: the compose file, the Dockerfile and .dockerignore, checked without a Docker engine.

The compose file is loaded with a YAML parser: every command must name a real entry point
(the `notify-relay` console script and one of its commands, or `celery -A worker` and a
Celery command) with options that exist, the worker and Flower must get the variables they
need, and Redis must persist to a volume.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from importlib.metadata import entry_points
from typing import Any

import click
import pytest
import yaml
from celery.bin.celery import celery as celery_cli

from notify_relay.cli import cli as notify_relay_cli
from producers.settings import Settings
from tests.conftest import ROOT

DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
DOCKERFILE = DOCKER / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def option_names(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in param.opts + param.secondary_opts}


def celery_command(name: str) -> click.Command | None:
    if name in celery_cli.commands:
        return celery_cli.commands[name]
    plugins = {ep.name: ep for ep in entry_points(group="celery.commands")}  # flower
    return plugins[name].load() if name in plugins else None


def assert_resolves(argv: list[str]) -> None:
    """`argv` runs a real entry point of this project with options it knows."""
    program, *args = argv
    if program == "notify-relay":
        assert PYPROJECT["project"]["scripts"]["notify-relay"] == "notify_relay.cli:main"
        command = notify_relay_cli.commands.get(args[0])
        assert command is not None, f"no `notify-relay {args[0]}` command"
        command.make_context(args[0], list(args[1:]))  # raises on an unknown option
    elif program == "celery":
        assert args[:2] == ["-A", "worker"], argv
        import worker.celery  # what `-A worker` loads (Celery looks for worker.celery)

        assert worker.celery.app.main == "notify_relay"
        command = celery_command(args[2])
        assert command is not None, f"no `celery {args[2]}` command"
        known = option_names(command)
        for arg in args[3:]:
            if arg.startswith("--"):
                assert arg.split("=")[0] in known, f"`celery {args[2]}` has no option {arg}"
    else:
        raise AssertionError(f"{argv}: not an entry point of this project")


def our_services(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if "build" in s}


def test_the_stack_has_redis_worker_flower_and_a_dev_only_emulator(services):
    assert set(services) >= {"redis", "worker", "flower", "emulator"}
    assert services["emulator"]["profiles"] == ["dev"]
    assert all("profiles" not in services[name] for name in ("redis", "worker", "flower"))


def test_every_command_resolves_to_an_entry_point(services):
    ours = our_services(services)
    assert set(ours) >= {"worker", "flower", "emulator"}
    for name, service in ours.items():
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name
        assert (DOCKER / service["build"]["context"] / "pyproject.toml").exists(), name
        assert_resolves(service["command"])


def test_the_dockerfile_commands_resolve_to_entry_points():
    text = DOCKERFILE.read_text()
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    health = re.search(r"^\s+CMD (\[.*\])$", text, re.M)
    assert cmd and health
    assert_resolves(json.loads(cmd.group(1)))
    assert json.loads(health.group(1))[:2] == ["notify-relay", "health"]
    assert_resolves(json.loads(health.group(1)))


def test_worker_and_flower_read_the_env_file_and_the_stacks_redis(services):
    env_example = (ROOT / ".env.example").read_text()
    for name in ("worker", "flower"):
        service = services[name]
        [env_file] = service["env_file"]
        # The file .env.example is the template of: the repository root's .env.
        assert (DOCKER / env_file["path"]).resolve() == ROOT / ".env"
        assert env_file["required"] is True
        redis_url = service["environment"]["REDIS_URL"]
        assert re.fullmatch(r"redis://redis:6379/\d+", redis_url)
        assert services["redis"] and service["depends_on"]["redis"]["condition"] == \
            "service_healthy"
    for needed in ("PUSHWOOSH_API_TOKEN", "FLOWER_BASIC_AUTH"):
        assert f"\n# {needed}=" in env_example, needed
    # Secrets come from .env only, never from the compose file itself.
    assert "PUSHWOOSH_API_TOKEN" not in COMPOSE.read_text().split("services:", 1)[1]


def test_the_worker_scales_and_gets_time_to_finish_its_sends(services):
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["stop_signal"] == "SIGTERM"
    grace = float(worker["stop_grace_period"].removesuffix("s"))
    defaults = Settings()
    assert grace > defaults.connect_timeout_s + defaults.read_timeout_s + 1.0


def test_flower_publishes_the_port_it_listens_on(services):
    flower = services["flower"]
    port = flower["command"][flower["command"].index("--port") + 1]
    assert any(str(p).endswith(f":{port}") for p in flower["ports"])


def test_redis_persists_to_a_volume_and_never_evicts(compose, services):
    redis = services["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in compose["volumes"]
    assert "ports" not in redis  # not reachable from outside the stack


def test_the_image_is_pinned_non_root_and_stops_with_sigterm():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim", text, re.M)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${PYTHON_IMAGE}"] * 2
    [user] = re.findall(r"^USER (\S+)", text, re.M)
    assert user.split(":")[0] not in {"0", "root"}
    assert re.search(r"^STOPSIGNAL SIGTERM$", text, re.M)
    assert "HEALTHCHECK" in text


def test_the_image_installs_every_package_from_pyproject():
    text = DOCKERFILE.read_text()
    assert "COPY pyproject.toml" in text and "tomllib" in text
    included = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = set(re.findall(r"^COPY (\S+) \./", text, re.M))
    assert {pattern.rstrip("*") for pattern in included} <= copied
    assert PYPROJECT["project"]["readme"] in copied  # the build reads it


def test_dockerignore_keeps_secrets_out_and_what_the_build_copies_in():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for secret_or_bulk in (".env", ".git", ".venv"):
        assert secret_or_bulk in patterns
    for source in re.findall(r"^COPY (\S+) \./", DOCKERFILE.read_text(), re.M):
        assert not any(fnmatch.fnmatch(source, p) for p in patterns), source
