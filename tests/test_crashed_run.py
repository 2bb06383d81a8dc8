"""A deployment run killed with SIGKILL does not block the next one.

prefect.yaml deployed to a real Prefect server, a process worker running, and a run of
`nightly/nightly` killed (SIGKILL, no chance to clean up) while it builds. Shown: Prefect marks
it Crashed and frees the deployment's concurrency slot (limit 1), the run lock is free, the
next run of the deployment starts, takes the lock, deletes the killed run's unfinished build
and publishes, and the published ``audit.runs`` records the killed run as ``interrupted``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from isletflow.demo import generate_trial
from isletflow.runs import journal_path, lock_holder, lock_path
from isletflow.serve import POOL, PROJECT, descendants, stop_tree
from isletflow.status import check

pytestmark = pytest.mark.e2e


def _wait(what: str, predicate, timeout_s: float, every_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _journal_events(warehouse: Path, run_id: str) -> list[str]:
    path = journal_path(warehouse)
    if not path.exists():
        return []
    return [e["status"] for e in map(json.loads, path.read_text().splitlines())
            if e["run_id"] == run_id]


def test_a_killed_run_frees_its_slot_and_lock_and_is_recorded(tmp_path, deployed):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.settings import get_current_settings

    generate_trial(tmp_path / "landing", seed=5, participants=2, days=14)
    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url),
           "PREFECT_WORKER_QUERY_SECONDS": "1"}  # poll every second: the test waits less
    wh = tmp_path / "out" / "warehouse.duckdb"
    params = {"landing_dir": str(tmp_path / "landing"), "warehouse": str(wh),
              "as_of": str(dt.date.today())}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("prefect")), "worker", "start", "--pool", POOL],
        env=env, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    timings: dict[str, float] = {}
    try:
        with get_client(sync_client=True) as client:
            def state(run):
                return client.read_flow_run(run.id).state

            def slots_held() -> int:
                return client.read_deployment_by_name(
                    "nightly/nightly").global_concurrency_limit.active_slots

            first = run_deployment("nightly/nightly", timeout=0, parameters=params)
            t0 = time.monotonic()
            # the first run is building: it holds the run lock and its build file exists
            build = wh.with_name(f".{wh.name}.building-{first.id}")
            _wait("the first run to start building", build.exists, 180, 0.05)
            timings["building after"] = time.monotonic() - t0
            holder = lock_holder(wh)
            assert holder is not None and holder.startswith("pid ")
            pid = int(holder.split()[1])
            # it is the flow-run process the worker started, and the run is Running
            assert pid in {p for p, _ in descendants(worker.pid)}
            assert state(first).type == StateType.RUNNING
            assert slots_held() == 1

            os.kill(pid, signal.SIGKILL)
            t_kill = time.monotonic()
            crashed = _wait("the worker to report the killed run",
                            lambda: state(first).is_final() and state(first), 60)
            timings["final state after kill"] = time.monotonic() - t_kill
            assert crashed.type == StateType.CRASHED, crashed
            assert slots_held() == 0  # the slot went with the Crashed state
            assert lock_holder(wh) is None  # the kernel dropped the killed process's flock
            assert build.exists()  # nothing cleaned up after the killed run ...
            assert _journal_events(wh, str(first.id)) == ["started"]

            second = run_deployment("nightly/nightly", timeout=0, parameters=params)
            t1 = time.monotonic()
            done = _wait("the next run to finish",
                         lambda: state(second).is_final() and state(second), 300, 0.5)
            timings["next run final after"] = time.monotonic() - t1
        assert done.type == StateType.COMPLETED, (tmp_path / "worker.log").read_text()[-3000:]
        # ... until the next run took the lock (its own pid in the lock file), removed the
        # killed run's build and journalled it as interrupted
        assert lock_path(wh).read_text().startswith("pid ")
        assert lock_path(wh).read_text() != f"pid {pid}"
        assert not build.exists()
        assert _journal_events(wh, str(first.id)) == ["started", "interrupted"]
        assert _journal_events(wh, str(second.id)) == ["started", "published"]
        with duckdb.connect(str(wh), read_only=True) as con:
            runs = con.sql("SELECT run_id, flow_run_id, status, finished_at IS NULL "
                           "FROM audit.runs ORDER BY started_at").fetchall()
        assert runs == [(str(first.id), str(first.id), "interrupted", True),
                        (str(second.id), str(second.id), "published", False)]
        code, line = check(wh, dt.timedelta(hours=26))
        assert code == 0 and line.startswith("ok: last night published ")
        assert line.endswith(f", run {str(second.id)[:8]}")
    finally:
        stop_tree(worker, 5.0, [])
        log.close()
        print("crash test timings (s):", {k: round(v, 1) for k, v in timings.items()})
