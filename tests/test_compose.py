"""Static checks for the Airflow deployment files (Dockerfile, docker-compose.yml).

No Docker engine is needed: the compose file is validated against the Compose spec
with check-jsonschema and its semantics are checked on the parsed YAML.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

IMAGE = "news-etl-airflow:latest"
INIT = "airflow-init"
COMMANDS = {
    INIT: ["airflow", "db", "migrate"],
    "airflow-apiserver": ["airflow", "api-server"],
    "airflow-scheduler": ["airflow", "scheduler"],
    "airflow-dag-processor": ["airflow", "dag-processor"],
    "airflow-triggerer": ["airflow", "triggerer"],
    "airflow-worker": ["airflow", "celery", "worker"],
}
AIRFLOW_SERVICES = sorted(COMMANDS)
LONG_RUNNING = [s for s in AIRFLOW_SERVICES if s != INIT]
DATA_MOUNTS = {"/data/landing": "./data/landing", "/data/warehouse": "./data/warehouse"}
PROJECT_DIRS = ("pipeline", "dags", "sql", "models")


# --------------------------------------------------------------------------- helpers


def run_check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    assert CHECK_JSONSCHEMA.is_file(), (
        f"check-jsonschema not installed in {CHECK_JSONSCHEMA.parent}"
    )
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    svcs = compose["services"]
    missing = set(AIRFLOW_SERVICES) - set(svcs)
    assert not missing, f"missing services: {sorted(missing)}"
    return svcs  # type: ignore[no-any-return]


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # ["KEY=value", ...] form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def mounts_of(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Map container target -> (source, read_only) for short and long volume syntax."""
    out: dict[str, tuple[str, bool]] = {}
    for vol in service.get("volumes", []):
        if isinstance(vol, str):
            source, target, *rest = vol.split(":")
            out[target] = (source, "ro" in (rest[0].split(",") if rest else []))
        else:
            out[vol["target"]] = (vol.get("source", ""), bool(vol.get("read_only", False)))
    return out


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined, comments dropped."""
    logical: list[str] = []
    buf = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    assert not buf, "Dockerfile ends with a dangling line continuation"
    result = []
    for line in logical:
        instr, _, args = line.partition(" ")
        result.append((instr.upper(), " ".join(args.split())))
    return result


# --------------------------------------------------------------------------- schema


def test_compose_file_matches_compose_spec() -> None:
    proc = run_check_jsonschema(COMPOSE_FILE)
    assert proc.returncode == 0, (
        f"check-jsonschema rejected {COMPOSE_FILE.name} (exit {proc.returncode}):\n"
        f"{proc.stdout}\n{proc.stderr}"
    )


def test_schema_check_rejects_broken_compose(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text('services: {x: {image: 1, ports: "bad"}}\n', encoding="utf-8")
    proc = run_check_jsonschema(broken)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"broken compose file was accepted:\n{output}"
    assert "services.x" in output, output


# --------------------------------------------------------------------------- compose semantics


def test_airflow_services_share_one_image_and_run_their_component(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        build = svc.get("build")
        context = build.get("context") if isinstance(build, dict) else build
        assert svc.get("image") == IMAGE, name
        assert context in (".", "./"), f"{name} must build the repo Dockerfile, got {build!r}"
        assert as_argv(svc["command"]) == COMMANDS[name], name


def test_celery_executor_with_redis_broker_and_postgres(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/"), name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
            "postgresql+psycopg2://airflow:airflow@postgres/"
        ), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
        assert (
            env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
            == "http://airflow-apiserver:8080/execution/"
        ), name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false", name
        # JWT secret must be identical across components: it must come from the
        # environment rather than differ per container.
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${"), name
        assert env["AIRFLOW__CORE__FERNET_KEY"].startswith("${"), name
    assert services["redis"]["image"].startswith("redis:7")
    assert "redis-cli" in services["redis"]["healthcheck"]["test"]
    assert services["postgres"]["image"] == "postgres:16"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def test_worker_is_scalable(services: dict[str, dict[str, Any]]) -> None:
    worker = services["airflow-worker"]
    assert "container_name" not in worker
    assert not worker.get("ports"), "host ports would collide with --scale airflow-worker=N"


def test_apiserver_exposes_8080_with_health_check(services: dict[str, dict[str, Any]]) -> None:
    api = services["airflow-apiserver"]
    assert any(str(p).split(":")[-1] == "8080" for p in api["ports"])
    assert "http://localhost:8080/api/v2/monitor/health" in " ".join(api["healthcheck"]["test"])


@pytest.mark.parametrize("name", ["airflow-worker", "airflow-scheduler"])
def test_data_volumes_mounted(services: dict[str, dict[str, Any]], name: str) -> None:
    mounts = mounts_of(services[name])
    env = env_of(services[name])
    for target, source in DATA_MOUNTS.items():
        assert target in mounts, f"{name} does not mount {target}"
        assert mounts[target][0] == source, f"{name}: {target} comes from {mounts[target][0]}"
    # The pipeline finds its data through these variables: they must point at the mounts.
    assert env["NEWSETL_LANDING"] == "/data/landing"
    assert env["NEWSETL_WAREHOUSE"] == "/data/warehouse"
    assert not mounts["/data/warehouse"][1], f"{name}: warehouse must be writable"


def test_logs_on_named_volume(compose: dict[str, Any]) -> None:
    named = set(compose.get("volumes") or {})
    for name in AIRFLOW_SERVICES:
        source, _ = mounts_of(compose["services"][name])["/opt/airflow/logs"]
        assert source in named, f"{name}: logs volume {source!r} is not a named volume"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_services_wait_for_init(services: dict[str, dict[str, Any]], name: str) -> None:
    deps = services[name].get("depends_on")
    assert isinstance(deps, dict), f"{name}: depends_on must use the long (condition) form"
    assert deps.get(INIT, {}).get("condition") == "service_completed_successfully", name
    assert deps["postgres"]["condition"] == "service_healthy", name
    assert deps["redis"]["condition"] == "service_healthy", name


def test_init_does_not_restart_or_wait_for_itself(services: dict[str, dict[str, Any]]) -> None:
    init = services[INIT]
    assert INIT not in (init.get("depends_on") or {})
    assert init.get("restart", "no") == "no"


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_installs_from_lock_file() -> None:
    instrs = dockerfile_instructions()
    assert instrs[0] == ("FROM", "python:3.11-slim-bookworm")
    runs = [args for instr, args in instrs if instr == "RUN"]
    syncs = [r for r in runs if "uv sync" in r]
    assert len(syncs) >= 2, syncs
    for cmd in syncs:
        # Runtime image: no dev tools, no training-only packages (default groups dev + train).
        assert "uv sync --frozen" in cmd and "--no-default-groups" in cmd, cmd
    assert not any("uv lock" in r or "uv add" in r or "uv pip install" in r for r in runs)
    assert any("pip install" in r and "uv" in r for r in runs), "uv must be installed with pip"

    def first(instr: str, pred: Callable[[str], bool]) -> int:
        return next(n for n, (i, a) in enumerate(instrs) if i == instr and pred(a))

    copy_lock = first("COPY", lambda a: {"pyproject.toml", "uv.lock"} <= set(a.split()))
    deps_sync = first("RUN", lambda a: "uv sync" in a and "--no-install-project" in a)
    first_code_copy = first("COPY", lambda a: a.split()[0].rstrip("/") in PROJECT_DIRS)
    project_sync = max(n for n, (i, a) in enumerate(instrs) if i == "RUN" and "uv sync" in a)
    # Dependency layer (lock file only) comes before the code, project install after it.
    assert copy_lock < deps_sync < first_code_copy < project_sync
    assert "--no-install-project" not in instrs[project_sync][1]


def test_dockerfile_copies_what_the_dags_need() -> None:
    instrs = dockerfile_instructions()
    copied = {
        src.rstrip("/")
        for instr, args in instrs
        if instr == "COPY"
        for src in [a for a in args.split() if not a.startswith("--")][:-1]
    }
    assert set(PROJECT_DIRS) <= copied, f"not copied: {set(PROJECT_DIRS) - copied}"

    env = " ".join(args for instr, args in instrs if instr == "ENV")
    assert "AIRFLOW__CORE__DAGS_FOLDER=/opt/news-etl/dags" in env
    assert "PATH=/opt/news-etl/.venv/bin:$PATH" in env
    assert "AIRFLOW_HOME=/opt/airflow" in env
    assert "UV_COMPILE_BYTECODE=1" in env
    assert ("WORKDIR", "/opt/news-etl") in instrs

    users = [args for instr, args in instrs if instr == "USER"]
    assert users and users[-1].split(":")[0] in ("airflow", "50000"), "image must not run as root"
    assert any("useradd" in a and "50000" in a and "airflow" in a for i, a in instrs if i == "RUN")


def test_dockerignore_keeps_local_state_out_but_not_code() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "data", ".git"} <= patterns
    for needed in (*PROJECT_DIRS, "pyproject.toml", "uv.lock", "README.md"):
        assert needed not in patterns, f".dockerignore excludes {needed}, which the build copies"
