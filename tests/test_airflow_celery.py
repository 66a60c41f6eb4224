"""The real deployment: API server, scheduler, DAG processor and two Celery workers.

Runs on the PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) services of the machine or CI
job, in a database and Redis db of its own. One run is triggered through the REST API for the
data interval of 2023-01-31, then a three-day backfill (2023-02-01 .. 2023-02-03) is created with
the CLI; the warehouse must then hold the four batches, every run must reconcile, and the mapped
tasks must have been executed by both workers. Alongside, two runs that must fail without a
retry: one whose day holds only empty files (the quality gate blocks its publish) and one
triggered without a logical date (no data interval, so no batch).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.conftest import REPO, SAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
DAG_ID = "news_nightly"
AIRFLOW = Path(sys.executable).parent / "airflow"
BATCHES = ["2023-01-31", "2023-02-01", "2023-02-02", "2023-02-03"]
RUN_TIMEOUT = 360.0
TERMINAL_BAD = {"failed", "up_for_retry", "upstream_failed"}
ENRICH_POOL = "newsetl_enrich"  # the DAG's pool; the deployment creates it (airflow-init)
GATE_RUN, NO_INTERVAL_RUN = "manual__gate_blocked", "manual__no_logical_date"


# --- services ----------------------------------------------------------------------------------

def _pg_connect(dbname: str = "postgres") -> Any:
    import psycopg2

    con = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname,
                           connect_timeout=5)
    con.autocommit = True
    return con


def _require_services() -> None:
    try:
        _pg_connect().close()
    except Exception as exc:
        pytest.skip(f"needs PostgreSQL at {PG_HOST}:{PG_PORT} (user {PG_USER}, trust auth): {exc}")
    try:
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=5).ping()
    except Exception as exc:
        pytest.skip(f"needs Redis at {REDIS_HOST}:{REDIS_PORT}: {exc}")


def _pick_redis_db() -> int:
    """A random empty Redis db (1-15), so parallel runs do not share a broker."""
    import random

    import redis

    dbs = list(range(1, 16))
    random.shuffle(dbs)
    for n in dbs:
        if redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=n).dbsize() == 0:
            return n
    pytest.skip("needs an empty Redis db among 1-15")
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- processes ---------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    handle: IO[bytes]


@dataclass
class Deployment:
    home: Path
    env: dict[str, str]
    port: int
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Proc:
        log = self.home / f"{name}.out"
        handle = log.open("wb")
        popen = subprocess.Popen([str(AIRFLOW), *args], env=self.env, cwd=self.home,
                                 stdout=handle, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        proc = Proc(name, popen, log, handle)
        self.procs.append(proc)
        return proc

    def check_alive(self) -> None:
        for p in self.procs:
            code = p.popen.poll()
            assert code is None, f"{p.name} exited with {code}:\n{_tail(p.log)}"

    def stop(self) -> None:
        for p in self.procs:
            _signal_group(p.popen, signal.SIGINT)
        deadline = time.monotonic() + 20
        for p in self.procs:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                    break
                except subprocess.TimeoutExpired:
                    _signal_group(p.popen, sig)
                    deadline = time.monotonic() + 10
            # Children (task supervisors, gunicorn/uvicorn workers) may outlive the leader.
            _signal_group(p.popen, signal.SIGKILL)
            p.handle.close()

    def diagnostics(self) -> str:
        parts = [f"== {p.name} (exit {p.popen.poll()}) ==\n{_tail(p.log, 40)}" for p in self.procs]
        task_logs = sorted((self.home / "logs").rglob("*.log"), key=lambda f: f.stat().st_mtime)
        parts += [f"== {f.relative_to(self.home)} ==\n{_tail(f, 40)}" for f in task_logs[-6:]]
        return "\n".join(parts)


def _signal_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)  # the group id is the pid: start_new_session=True


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<unreadable: {exc}>"


def _wait(what: str, cond: Callable[[], Any], timeout: float, dep: Deployment,
          interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        dep.check_alive()
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n"
                                 + dep.diagnostics())
        time.sleep(interval)


# --- REST API ----------------------------------------------------------------------------------

class Api:
    """The public REST API with a JWT from the simple auth manager (all users are admins)."""

    def __init__(self, port: int) -> None:
        import httpx

        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.base, timeout=30)

    def ready(self) -> bool:
        import httpx

        try:
            r = self.client.get("/api/v2/monitor/health")
        except httpx.HTTPError:
            return False
        if r.status_code != 200:
            return False
        # GET /auth/token works without credentials only when simple_auth_manager_all_admins.
        tok = self.client.get("/auth/token")
        assert tok.status_code in (200, 201), tok.text
        self.client.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"
        return True

    def call(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kw: Any) -> Any:
        r = self.client.request(method, "/api/v2" + path, **kw)
        assert r.status_code in ok, f"{method} {path}: {r.status_code} {r.text[:2000]}"
        return r.json() if r.content else None

    def dag_parsed(self) -> bool:
        r = self.client.get(f"/api/v2/dags/{DAG_ID}")
        return r.status_code == 200

    def runs(self) -> list[dict[str, Any]]:
        out = self.call("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})
        return list(out["dag_runs"])

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        out = self.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances",
                        params={"limit": 100})
        return list(out["task_instances"])


def _wait_runs_succeeded(api: Api, dep: Deployment, run_ids: Callable[[], list[str]],
                         what: str) -> None:
    """Wait until every run in ``run_ids()`` succeeded; fail fast on a failed or retried task."""

    def done() -> bool:
        ids = run_ids()
        states = {r["dag_run_id"]: r["state"] for r in api.runs()}
        for rid in ids:
            bad = [f"{t['task_id']}[{t['map_index']}]={t['state']}"
                   for t in api.task_instances(rid) if t["state"] in TERMINAL_BAD]
            assert not bad and states.get(rid) != "failed", (
                f"run {rid} is {states.get(rid)}; tasks {bad}\n{dep.diagnostics()}")
        return bool(ids) and all(states.get(rid) == "success" for rid in ids)

    _wait(what, done, RUN_TIMEOUT, dep, interval=5.0)


# --- the deployment ----------------------------------------------------------------------------

@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    _require_services()
    db = f"newsetl_test_{secrets.token_hex(6)}"
    redis_db = _pick_redis_db()
    home = tmp_path / "airflow"
    (home / "logs").mkdir(parents=True)
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLES, landing)
    port = _free_port()
    pg_url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSETL"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=pg_url,
        AIRFLOW__CELERY__BROKER_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        AIRFLOW__CELERY__RESULT_BACKEND=f"db+postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}",
        AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER="1",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__WORKERS="1",
        # One secret for the API server (which signs task tokens) and the workers.
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
        # No scheduled runs for "yesterday" once the DAG is unpaused: only the triggered run
        # and the backfill run (manual runs and backfills are unaffected by this option).
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        PYTHONPATH=str(REPO),
        NEWSETL_WAREHOUSE=str(tmp_path / "warehouse"),
        NEWSETL_LANDING=str(landing),
        NEWSETL_SHARD_FILES="2",
    )
    dep = Deployment(home=home, env=env, port=port)
    with closing(_pg_connect()) as admin:
        admin.cursor().execute(f'CREATE DATABASE "{db}"')
    try:
        mig = subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, cwd=home,
                             capture_output=True, text=True, timeout=300)
        assert mig.returncode == 0, mig.stdout[-3000:] + mig.stderr[-3000:]
        # As docker-compose's airflow-init does: enrich tasks of a missing pool stay queued.
        pool = subprocess.run([str(AIRFLOW), "pools", "set", ENRICH_POOL, "2", "news-etl NER"],
                              env=env, cwd=home, capture_output=True, text=True, timeout=120)
        assert pool.returncode == 0, pool.stdout[-3000:] + pool.stderr[-3000:]
        yield dep
    finally:
        dep.stop()
        with closing(_pg_connect()) as admin:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=redis_db).flushdb()


def _worker_of_celery_ids(dep: Deployment) -> dict[str, str]:
    """Celery task id -> worker name, from the "Task ...[<id>] received" lines of each worker."""
    out: dict[str, str] = {}
    for p in dep.procs:
        if p.name.startswith("worker"):
            text = p.log.read_text(errors="replace")
            out.update((cid, p.name) for cid in re.findall(r"\[([0-9a-f-]{36})\] received", text))
    return out


def _wait_failed_without_retry(api: Api, dep: Deployment, run_id: str, task_id: str,
                               message: str) -> None:
    """The run fails at ``task_id`` in its first try (``failed``, never ``up_for_retry``), and the
    task's log says why."""

    def settled() -> dict[str, Any] | None:
        ti = next((t for t in api.task_instances(run_id) if t["task_id"] == task_id), None)
        return ti if ti and ti["state"] in ("failed", "up_for_retry", "success") else None

    ti = _wait(f"{task_id} of {run_id} to end", settled, RUN_TIMEOUT, dep, interval=3.0)
    assert (ti["state"], ti["try_number"]) == ("failed", 1), (ti, dep.diagnostics())
    _wait(f"run {run_id} to fail",
          lambda: {r["dag_run_id"]: r["state"] for r in api.runs()}.get(run_id) == "failed",
          60, dep)
    logs = [f for f in (dep.home / "logs").rglob("*.log")
            if f"run_id={run_id}" in str(f) and f"task_id={task_id}" in str(f)]
    assert logs and any(message in f.read_text(errors="replace") for f in logs), logs


def _tables(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    import duckdb

    con = duckdb.connect(str(warehouse / "news.duckdb"), read_only=True)
    try:
        return {
            "articles": con.execute("SELECT batch_date, article_id, content_hash, published_at, "
                                    "duplicate_cluster_id FROM articles ORDER BY 1, 2").fetchall(),
            "entities": con.execute("SELECT batch_date, article_id, field, start_char, label "
                                    "FROM entities ORDER BY 1, 2, 3, 4").fetchall(),
            "rejects": con.execute("SELECT batch_date, source_file, reason_code FROM rejects "
                                   "ORDER BY 1, 2").fetchall(),
        }
    finally:
        con.close()


def test_celery_deployment_runs_nightly_and_backfill(deployment: Deployment) -> None:
    dep = deployment
    api = Api(dep.port)
    dep.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(dep.port),
              "--workers", "1")
    dep.start("scheduler", "scheduler", "--skip-serve-logs")
    dep.start("dag-processor", "dag-processor")
    # Concurrency 1 with prefetch 1: a worker holds one task at a time, so the three parse
    # (and enrich) shards of a batch cannot all land on the same worker.
    for name in ("worker1", "worker2"):
        dep.start(name, "celery", "worker", "--concurrency", "1", "--skip-serve-logs",
                  "--celery-hostname", f"{name}@%h")
    _wait("the API server", api.ready, 180, dep)
    for name in ("worker1", "worker2"):
        log = next(p.log for p in dep.procs if p.name == name)
        _wait(f"Celery {name}", lambda log=log: " ready." in log.read_text(errors="replace"),
              180, dep)
    _wait(f"the DAG {DAG_ID} to be parsed", api.dag_parsed, 240, dep)

    api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    nightly = api.call("POST", f"/dags/{DAG_ID}/dagRuns", json={
        "dag_run_id": "manual__2023-01-31",
        "logical_date": "2023-01-31T02:00:00Z",
        "data_interval_start": "2023-01-31T02:00:00Z",
        "data_interval_end": "2023-02-01T02:00:00Z",
    })
    assert nightly["data_interval_start"].startswith("2023-01-31T02:00:00"), nightly
    # Two runs that must fail at once, retries=2 notwithstanding: one without a logical date, and
    # the day 2023-02-10 (interval ending at its logical date) holding only empty files.
    api.call("POST", f"/dags/{DAG_ID}/dagRuns",
             json={"dag_run_id": NO_INTERVAL_RUN, "logical_date": None})
    empty_day = Path(dep.env["NEWSETL_LANDING"]) / "2023-02-10"
    empty_day.mkdir()
    for n in range(4):
        (empty_day / f"empty-{n}.txt").touch()
    gate = api.call("POST", f"/dags/{DAG_ID}/dagRuns",
                    json={"dag_run_id": GATE_RUN, "logical_date": "2023-02-11T02:00:00Z"})
    assert gate["data_interval_start"].startswith("2023-02-10T02:00:00"), gate
    _wait_runs_succeeded(api, dep, lambda: ["manual__2023-01-31"], "the triggered run")
    _wait_failed_without_retry(api, dep, NO_INTERVAL_RUN, "plan", "has no data interval")
    _wait_failed_without_retry(api, dep, GATE_RUN, "publish", "empty_body_share")

    # Backfill dates are logical dates (the interval starts): 02:00 on the first and last day.
    bf = subprocess.run([str(AIRFLOW), "backfill", "create", "--dag-id", DAG_ID,
                         "--from-date", "2023-02-01T02:00:00+00:00",
                         "--to-date", "2023-02-03T02:00:00+00:00", "--max-active-runs", "1"],
                        env=dep.env, cwd=dep.home, capture_output=True, text=True, timeout=300)
    assert bf.returncode == 0, bf.stdout[-3000:] + bf.stderr[-3000:]

    def backfill_runs() -> list[str]:
        return [r["dag_run_id"] for r in api.runs() if r["run_type"] == "backfill"]

    _wait("the backfill runs to be created", lambda: len(backfill_runs()) == 3, 60, dep)
    _wait_runs_succeeded(api, dep, backfill_runs, "the backfill runs")

    runs = [r for r in api.runs() if r["dag_run_id"] not in (GATE_RUN, NO_INTERVAL_RUN)]
    intervals = sorted((r["data_interval_start"][:10], r["data_interval_end"][:10]) for r in runs)
    assert intervals == [("2023-01-31", "2023-02-01"), ("2023-02-01", "2023-02-02"),
                         ("2023-02-02", "2023-02-03"), ("2023-02-03", "2023-02-04")], intervals

    # The warehouse: four batch partitions, and every current run reconciles.
    import duckdb

    con = duckdb.connect(str(Path(dep.env["NEWSETL_WAREHOUSE"]) / "news.duckdb"), read_only=True)
    try:
        dates = sorted(str(d) for (d,) in con.execute(
            "SELECT DISTINCT batch_date FROM articles").fetchall())
        current = con.execute("SELECT batch_date::VARCHAR, records_read, articles_loaded, "
                              "records_rejected FROM runs WHERE is_current "
                              "ORDER BY batch_date").fetchall()
    finally:
        con.close()
    assert dates == BATCHES
    assert [row[0] for row in current] == BATCHES, current
    for batch, read, loaded, rejected in current:
        assert read == loaded + rejected, (batch, read, loaded, rejected)
        assert loaded > 0, batch

    # The same archive through `newsetl backfill` (no Airflow) gives the same tables.
    from datetime import date

    from pipeline.batch.backfill import backfill
    from pipeline.settings import Settings

    cli_wh = Path(dep.env["NEWSETL_WAREHOUSE"]).parent / "cli_warehouse"
    results = backfill(Path(dep.env["NEWSETL_LANDING"]), date(2023, 1, 31), date(2023, 2, 3),
                       Settings.from_mapping({"warehouse": cli_wh, "shard_files": 2}))
    assert [r.status for r in results] == ["loaded"] * 4, results
    assert _tables(Path(dep.env["NEWSETL_WAREHOUSE"])) == _tables(cli_wh)

    # Both workers executed mapped shards. TaskInstance.hostname is the machine's name for both
    # workers, so each task's Celery id (external_executor_id, not exposed by the REST API) is
    # looked up in the "received" lines of the workers' logs.
    mapped = [t for r in runs for t in api.task_instances(r["dag_run_id"])
              if t["task_id"] in ("parse", "enrich")]
    assert mapped and all(t["state"] == "success" and t["map_index"] >= 0 for t in mapped)
    assert {t["pool"] for t in mapped if t["task_id"] == "enrich"} == {ENRICH_POOL}
    db = dep.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].rsplit("/", 1)[1]
    with closing(_pg_connect(db)) as con2:
        cur = con2.cursor()
        cur.execute("SELECT task_id, run_id, map_index, external_executor_id FROM task_instance "
                    "WHERE dag_id = %s AND task_id IN ('parse', 'enrich') "
                    "AND run_id NOT IN (%s, %s)", (DAG_ID, GATE_RUN, NO_INTERVAL_RUN))
        celery_ids = cur.fetchall()
    by_worker = _worker_of_celery_ids(dep)
    workers = {by_worker.get(cid, f"unknown:{cid}") for (_, _, _, cid) in celery_ids}
    assert len(celery_ids) == len(mapped)
    assert workers == {"worker1", "worker2"}, (workers, {t["hostname"] for t in mapped})
