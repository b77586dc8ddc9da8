"""docker/: the compose file, the Dockerfile and .dockerignore, checked without a Docker engine.

The compose file is loaded with a YAML parser: every command must name a real entry point
(the `notify-relay` console script and one of its commands, or `celery -A worker` and a
Celery command) with options that exist, the worker and Flower must get the variables they
need and Flower and the emulator not the API token, Redis must persist to a volume, ask for
a password and stop at a memory limit, and the image's health check must have a check for
every command the stack runs. `${...}` is resolved as Compose does (`interpolate`) from a
sample `.env`, to see what each container would really get.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from importlib.metadata import PackageNotFoundError, entry_points, requires
from typing import Any

import click
import pytest
import yaml
from celery.bin.celery import celery as celery_cli
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from notify_relay.cli import cli as notify_relay_cli
from notify_relay.container import probe_for
from producers.settings import Settings
from tests.conftest import ROOT

DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
DOCKERFILE = DOCKER / "Dockerfile"
CONSTRAINTS = DOCKER / "constraints.txt"
IMAGE = "notify-relay:latest"
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


# A filled-in .env, as the README asks for (plus one setting), to interpolate with.
SAMPLE_ENV = {"PUSHWOOSH_API_TOKEN": "tok-secret-123", "FLOWER_BASIC_AUTH": "ops:pw",
              "REDIS_PASSWORD": "5f3a9c", "NOTIFY_KEY_PREFIX": "acme:",
              "NOTIFY_API_KEYS": "orders:" + "0" * 64}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """`${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$` resolved the way Compose does."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if op == ":?" and not env.get(name):
            raise KeyError(f"required variable {name} is missing a value: {arg}")
        if op == ":-" and not env.get(name):
            return interpolate(arg, env)  # a default may hold a ${...} of its own
        return env.get(name, "")

    return re.sub(r"\$\$|\$\{(\w+)(?:(:[-?])((?:[^${}]|\$\{[^}]*\})*))?\}", one, value)


def our_services(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if s.get("image") == IMAGE}


def environment(service: dict[str, Any], env: dict[str, str] = SAMPLE_ENV) -> dict[str, str]:
    """What the container's environment holds: its env_file(s) (here: `env`), then
    `environment:`, interpolated."""
    files = service.get("env_file", [])
    from_files = dict(env) if files else {}
    return {**from_files, **interpolate(service.get("environment", {}), env)}


def test_the_stack_has_redis_worker_api_flower_and_a_dev_only_emulator(services):
    assert set(services) >= {"redis", "worker", "api", "flower", "emulator"}
    assert services["emulator"]["profiles"] == ["dev"]
    assert all("profiles" not in services[name] for name in ("redis", "worker", "api",
                                                             "flower"))
    sentinel = {"redis-replica-1", "redis-replica-2", "sentinel-1", "sentinel-2", "sentinel-3"}
    assert {name for name, s in services.items() if s.get("profiles") == ["sentinel"]} \
        == sentinel


def test_one_service_builds_the_image_and_the_others_never_pull_it(services):
    ours = our_services(services)
    assert set(ours) >= {"worker", "api", "flower", "emulator"}
    builders = [name for name, service in ours.items() if "build" in service]
    assert builders == ["worker"]
    worker = ours["worker"]
    assert worker["build"]["dockerfile"] == "docker/Dockerfile"
    assert (DOCKER / worker["build"]["context"] / "pyproject.toml").exists()
    for name, service in ours.items():
        if name != "worker":
            assert service["pull_policy"] == "never", name


def test_every_command_resolves_to_an_entry_point(services):
    for service in our_services(services).values():
        assert_resolves(service["command"])


def test_the_dockerfile_commands_resolve_to_entry_points():
    text = DOCKERFILE.read_text()
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    health = re.search(r"^\s+CMD (\[.*\])$", text, re.M)
    assert cmd and health
    assert_resolves(json.loads(cmd.group(1)))
    assert json.loads(health.group(1)) == ["notify-relay", "health", "--container"]
    assert_resolves(json.loads(health.group(1)))


def test_the_image_health_check_has_a_check_for_every_command_the_stack_runs(services):
    # compose's `init: true` puts tini first: PID 1 is docker-init, the command its child.
    expected = {"worker": "worker", "api": "http", "flower": "http", "emulator": "http"}
    for name, service in our_services(services).items():
        assert "healthcheck" not in service, f"{name}: the image's check covers it"
        argv = ["/sbin/docker-init", "--", *service["command"]]
        probe = probe_for(argv, environment(service), "3f2a1b0c9d8e")
        assert probe.kind == expected[name], (name, probe)
    worker = probe_for(["/sbin/docker-init", "--", *services["worker"]["command"]], {},
                       "3f2a1b0c9d8e")
    assert worker.pattern == "worker[0-9]*@3f2a1b0c9d8e"
    flower = probe_for(services["flower"]["command"], {}, "h")
    assert flower.url == "http://127.0.0.1:5555/healthcheck"
    emulator = probe_for(services["emulator"]["command"], {}, "h")
    assert emulator.url == "http://127.0.0.1:8080/_emulator/health"
    api = probe_for(services["api"]["command"], {}, "h")
    assert api.url == "http://127.0.0.1:8000/healthz"
    dockerfile_cmd = json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(),
                                          re.M).group(1))  # type: ignore[union-attr]
    assert probe_for(dockerfile_cmd, {}, "h").kind == "worker"


def test_the_workers_read_the_root_env_file_in_its_short_form(services):
    # The short form: the long one (`- path: ... required: ...`) needs Compose >= 2.24.
    worker = services["worker"]
    assert isinstance(worker["env_file"], str)
    assert (DOCKER / worker["env_file"]).resolve() == ROOT / ".env"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["flower"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert environment(worker)["PUSHWOOSH_API_TOKEN"] == SAMPLE_ENV["PUSHWOOSH_API_TOKEN"]
    env_example = (ROOT / ".env.example").read_text()
    for needed in ("PUSHWOOSH_API_TOKEN", "FLOWER_BASIC_AUTH", "REDIS_PASSWORD"):
        assert f"\n# {needed}=" in env_example, needed


def test_every_redis_url_carries_the_password_and_names_the_stacks_redis(services):
    for name, service in our_services(services).items():
        if name == "emulator":
            continue
        url = environment(service)["REDIS_URL"]
        assert url == f"redis://:{SAMPLE_ENV['REDIS_PASSWORD']}@redis:6379/0", name
    with pytest.raises(KeyError, match="REDIS_PASSWORD"):
        interpolate(services, {k: v for k, v in SAMPLE_ENV.items() if k != "REDIS_PASSWORD"})


def test_the_api_flower_and_the_emulator_never_get_the_api_token(services):
    token = SAMPLE_ENV["PUSHWOOSH_API_TOKEN"]
    for name in ("api", "flower", "emulator"):
        service = services[name]
        assert "env_file" not in service, f"{name} would get the whole .env, token included"
        env = environment(service)
        assert "PUSHWOOSH_API_TOKEN" not in env and token not in env.values(), name
    # ...and Flower gets what it needs to watch this deployment's keys, behind its login.
    flower = environment(services["flower"])
    assert flower["FLOWER_BASIC_AUTH"] == "ops:pw"
    assert flower["NOTIFY_KEY_PREFIX"] == "acme:" and flower["NOTIFY_QUEUE"] == ""
    # ...and the API what enqueueing needs: Redis with its password, the keys' hashes.
    api = environment(services["api"])
    assert api["NOTIFY_API_KEYS"] == SAMPLE_ENV["NOTIFY_API_KEYS"]
    assert api["NOTIFY_KEY_PREFIX"] == "acme:"
    # Secrets come from .env only, never from the compose file itself.
    assert token not in COMPOSE.read_text()


def test_every_variable_compose_reads_is_documented_in_env_example(compose):
    env_example = (ROOT / ".env.example").read_text()
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    assert used >= {"REDIS_PASSWORD", "REDIS_MAXMEMORY", "FLOWER_PORT", "FLOWER_BASIC_AUTH"}
    for name in used:
        assert re.search(rf"^# {name}=", env_example, re.M), name


def test_the_worker_scales_and_gets_time_to_finish_its_sends(services):
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["stop_signal"] == "SIGTERM"
    grace = float(worker["stop_grace_period"].removesuffix("s"))
    defaults = Settings()
    assert grace > defaults.connect_timeout_s + defaults.read_timeout_s + 1.0


def test_flower_and_the_api_are_published_on_the_hosts_loopback_only(services):
    flower, api = services["flower"], services["api"]
    port = flower["command"][flower["command"].index("--port") + 1]
    assert flower["ports"] == [f"127.0.0.1:${{FLOWER_PORT:-5555}}:{port}"]
    api_port = api["command"][api["command"].index("--port") + 1]
    assert api["ports"] == [f"127.0.0.1:${{API_PORT:-8000}}:{api_port}"]
    published = [name for name, s in services.items() if "ports" in s]
    assert sorted(published) == ["api", "flower"]


def test_the_emulator_is_reachable_from_the_workers_only(compose, services):
    emulator = services["emulator"]
    assert "ports" not in emulator
    networks = emulator["networks"]
    assert all(compose["networks"][net]["internal"] is True for net in networks)
    assert set(networks) <= set(services["worker"]["networks"])
    others = [name for name, s in services.items()
              if name not in ("worker", "emulator") and set(s.get("networks", [])) & set(networks)]
    assert others == []


def test_our_containers_are_read_only_without_capabilities_or_new_privileges(services):
    for name, service in our_services(services).items():
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["init"] is True, name
    assert "no-new-privileges:true" in services["redis"]["security_opt"]


def test_redis_asks_for_a_password_stops_at_a_memory_limit_and_persists(compose, services):
    redis = services["redis"]
    command = " ".join(interpolate(redis["command"], SAMPLE_ENV))
    assert f"--requirepass {SAMPLE_ENV['REDIS_PASSWORD']}" in command
    assert "--maxmemory 1gb" in command  # the default; REDIS_MAXMEMORY sets it
    assert "--maxmemory 512mb" in " ".join(
        interpolate(redis["command"], {**SAMPLE_ENV, "REDIS_MAXMEMORY": "512mb"}))
    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in compose["volumes"]
    assert "ports" not in redis  # not reachable from outside the stack


def test_the_redis_health_check_logs_in_and_needs_a_pong(services):
    redis = services["redis"]
    kind, test = redis["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    # redis-cli exits 0 on an error reply (NOAUTH, LOADING): only the PONG may count.
    assert re.fullmatch(r"redis-cli .*ping \| grep -q PONG|redis-cli ping \| grep -q PONG", test)
    # redis-cli takes the password from REDISCLI_AUTH (no -a: no warning, not in argv).
    assert interpolate(redis["environment"], SAMPLE_ENV)["REDISCLI_AUTH"] == \
        SAMPLE_ENV["REDIS_PASSWORD"]


def test_the_image_is_pinned_non_root_and_stops_with_sigterm():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim", text, re.M)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${PYTHON_IMAGE}"] * 2
    [user] = re.findall(r"^USER (\S+)", text, re.M)
    assert user.split(":")[0] not in {"0", "root"}
    assert re.search(r"^STOPSIGNAL SIGTERM$", text, re.M)
    assert "HEALTHCHECK" in text


def test_the_dockerfile_needs_no_docker_hub_frontend_and_makes_a_quiet_user():
    text = DOCKERFILE.read_text()
    # With BuildKit a `# syntax=` line pulls docker/dockerfile from Docker Hub first.
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I)
    useradd = re.search(r"useradd ([^\n]*)", text)
    assert useradd and "--system" not in useradd.group(1)  # SYS_UID_MAX warning


def copy_sources(text: str) -> list[str]:
    """The build-context sources of every COPY (not COPY --from)."""
    sources: list[str] = []
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        sources += line.split()[:-1]
    return sources


def test_the_image_installs_the_lock_exactly_and_every_package_of_the_project():
    text = DOCKERFILE.read_text()
    sources = copy_sources(text)
    assert "docker/constraints.txt" in sources and "pyproject.toml" in sources
    assert re.search(r"pip install --no-deps -r constraints\.txt", text)
    assert re.search(r"pip install --no-deps \.", text) and "pip check" in text
    # The dependency layer comes before the sources: a source edit does not rebuild it.
    assert text.index("constraints.txt ./") < text.index("COPY producers")
    included = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {pattern.rstrip("*") for pattern in included} <= set(sources)
    assert PYPROJECT["project"]["readme"] in sources  # the build reads it


def test_the_runtime_venv_has_no_pip_or_setuptools():
    text = DOCKERFILE.read_text()
    assert re.search(r"pip uninstall --yes pip setuptools", text)
    build, runtime = text.split("\nFROM ${PYTHON_IMAGE}\n")
    assert "uninstall" in build and "COPY --from=build /opt/venv /opt/venv" in runtime


def pins() -> dict[str, str]:
    lines = [line.strip() for line in CONSTRAINTS.read_text().splitlines()]
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(pair) == 2 for pair in pairs), "only name==version lines"
    return {canonicalize_name(name): version for name, version in pairs}


#: The image runs some Python 3.11.x: a marker may depend on the patch release (redis
#: needs async-timeout below 3.11.3), so the lock must cover the first one too.
PYTHONS = ("3.11.0", default_environment()["python_full_version"])


def closure(requirements: list[str]) -> set[str]:
    """Every distribution `requirements` pull in, extras included, read from the installed
    metadata (the tested environment) for Linux and any Python 3.11 release."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            declared = requires(req.name) or []
        except PackageNotFoundError:
            continue  # not installed here: pins() must still name it (checked by the caller)
        for extra in ("", *req.extras):
            for python in PYTHONS:
                env = {**default_environment(), "sys_platform": "linux", "extra": extra,
                       "python_full_version": python, "python_version": "3.11"}
                todo += [dep for dep in map(Requirement, declared)
                         if dep.marker is None and not extra
                         or dep.marker is not None and dep.marker.evaluate(env)]
    return seen


def test_the_lock_pins_every_dependency_in_the_range_pyproject_allows():
    locked = pins()
    for spec in PYPROJECT["project"]["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not in docker/constraints.txt: make constraints"
        assert req.specifier.contains(locked[name], prereleases=True), (spec, locked[name])
    missing = closure(PYPROJECT["project"]["dependencies"]) - set(locked)
    assert missing == set(), f"not pinned (make constraints): {sorted(missing)}"
    assert "notify-relay" not in locked and "pip" not in locked


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins, `!` lets a path back in, and a
    pattern matching a directory covers everything under it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob_ = pattern.removeprefix("!").strip("/")
        if any(fnmatch.fnmatchcase(prefix, glob_) for prefix in prefixes):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_secrets_out_and_what_the_build_copies_in():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for secret_or_bulk in (".env", ".git", ".venv", "tests/test_compose.py", "docker/Dockerfile"):
        assert dockerignored(secret_or_bulk, patterns), secret_or_bulk
    for source in copy_sources(DOCKERFILE.read_text()):
        assert not dockerignored(source, patterns), source


SENTINEL_URL = ("sentinel://:5f3a9c@sentinel-1:26379/0;sentinel://sentinel-2:26379;"
                "sentinel://sentinel-3:26379")


def test_the_sentinel_profile_replicates_redis_and_three_sentinels_watch_it(services):
    for name in ("redis-replica-1", "redis-replica-2"):
        command = " ".join(interpolate(services[name]["command"], SAMPLE_ENV))
        assert "--replicaof redis 6379" in command, name
        assert "--requirepass 5f3a9c" in command and "--masterauth 5f3a9c" in command, name
        assert "--maxmemory-policy noeviction" in command and "--appendonly yes" in command
        assert "--min-replicas-to-write 0" in command  # 1 from .env in the sentinel profile
        assert "--min-replicas-to-write 1" in " ".join(interpolate(
            services[name]["command"], {**SAMPLE_ENV, "REDIS_MIN_REPLICAS_TO_WRITE": "1"}))
    # The primary knows the replicas' password too: it comes back from a failover as one.
    assert "--masterauth 5f3a9c" in " ".join(interpolate(services["redis"]["command"],
                                                         SAMPLE_ENV))
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        [script] = interpolate(services[name]["command"], SAMPLE_ENV)
        assert "'sentinel monitor notify-relay redis 6379 2'" in script, name  # quorum 2/3
        assert "'sentinel auth-pass notify-relay 5f3a9c'" in script
        assert script.endswith("exec redis-server /tmp/sentinel.conf --sentinel")


def test_with_the_sentinel_url_every_component_reaches_redis_through_the_sentinels(services):
    env = {**SAMPLE_ENV, "STACK_REDIS_URL": SENTINEL_URL,
           "NOTIFY_SENTINEL_MASTER": "notify-relay"}
    for name in ("worker", "api", "flower"):
        seen = environment(services[name], env)
        assert seen["REDIS_URL"] == SENTINEL_URL, name
        settings = Settings.from_env(seen)  # the URL and the name pass the settings check
        assert settings.sentinel_master == "notify-relay", name
    # The URL .env.example shows is that one, with the password left to fill in.
    example = (ROOT / ".env.example").read_text()
    assert "#   STACK_REDIS_URL=" + SENTINEL_URL.replace("5f3a9c", "<REDIS_PASSWORD>") in example
