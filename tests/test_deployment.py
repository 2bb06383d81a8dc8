"""The deployment as a user runs it: prefect.yaml deployed to a real local Prefect server, a
run of `nightly/nightly` started by name with parameters (as the UI's form does), executed
by a process worker, and the published warehouse checked."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from isletflow.demo import generate_trial
from isletflow.serve import POOL, PROJECT

pytestmark = pytest.mark.e2e


def test_deployment_runs_by_name_with_parameters_on_a_process_worker(tmp_path, deployed):
    from prefect.client.schemas.objects import StateType
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import get_current_settings

    generate_trial(tmp_path / "landing", seed=3, participants=4, days=30)
    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url)}
    wh = tmp_path / "out" / "warehouse.duckdb"
    run = run_deployment("nightly/nightly", timeout=0, parameters={
        "landing_dir": str(tmp_path / "landing"), "warehouse": str(wh),
        "sites": ["US01", "GB01"], "as_of": str(dt.date.today())})
    worker = subprocess.run(
        [str(Path(sys.executable).with_name("prefect")), "worker", "start", "--pool", POOL,
         "--run-once"], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=900)
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run.id).state
        deployment = client.read_deployment_by_name("nightly/nightly")
        second = client.read_deployment_by_name("nightly/nightly-islet-301")
        on_dask = client.read_deployment_by_name("nightly/nightly-dask")
    assert state.type == StateType.COMPLETED, worker.stdout[-3000:] + worker.stderr[-3000:]
    schedule = deployment.schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == ("30 2 * * *", "America/Toronto")
    assert deployment.global_concurrency_limit.limit == 1  # later runs queue
    # the "Custom run" form: typed fields with their descriptions
    form = deployment.parameter_openapi_schema["properties"]
    assert form["as_of"]["anyOf"][0] == {"format": "date", "type": "string"}
    assert form["sites"]["anyOf"][0] == {"items": {"type": "string"}, "type": "array"}
    assert form["full_refresh"]["type"] == "boolean"
    assert form["landing_dir"]["description"].startswith("Landing folder")
    assert form["trial"]["default"] == "trials/islet-101.toml"
    assert form["trial"]["description"].startswith("Trial definition file")
    # the second trial: its own deployment, trial file and warehouse; scheduled but off until
    # its landing folder exists
    assert second.parameters["trial"] == "trials/islet-301.toml"
    assert second.parameters["warehouse"] == "data/islet-301/warehouse.duckdb"
    assert [s.active for s in second.schedules] == [False]
    # staging on a Dask cluster: the same flow, the scheduler's address as a parameter (the
    # default port of `dask scheduler`), scheduled but off until a cluster is there
    assert on_dask.entrypoint == deployment.entrypoint == "flows/nightly.py:nightly"
    assert on_dask.parameters["dask_address"] == "tcp://127.0.0.1:8786"
    assert on_dask.parameters["warehouse"] == "data/warehouse.duckdb"
    assert [s.active for s in on_dask.schedules] == [False]
    assert on_dask.global_concurrency_limit.limit == 1
    assert form["dask_address"]["description"].startswith("Dask scheduler")
    assert form["dask_workers"]["type"] == "integer" and form["dask_workers"]["default"] == 0
    with duckdb.connect(str(wh), read_only=True) as con:
        sites = {r[0] for r in con.sql("SELECT DISTINCT site_id FROM core.participants").fetchall()}
        runs = con.sql("SELECT flow_run_id, as_of FROM audit.runs").fetchall()
        n = con.sql("SELECT count(*) FROM endpoints.primary_endpoint").fetchall()[0][0]
    assert sites == {"US01", "GB01"} and n == 2
    assert runs == [(str(run.id), dt.date.today())]
