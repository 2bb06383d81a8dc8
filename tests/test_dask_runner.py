"""The per-file staging on Dask (issue 12, part 4; DESIGN.md, "Growth"): a part of the sample
trial staged on a real ``distributed.LocalCluster`` of 2 worker processes, reached by its scheduler
address as an existing cluster would be, publishes the same warehouse tables as the default
runner (threads of the flow's process); a second night on a local cluster the flow starts
itself (``dask_workers``) finds every file in Prefect's cache and changes no table."""

from __future__ import annotations

import os

import duckdb
import pytest
from typer.testing import CliRunner

from isletflow.cli import app
from tasks.runners import staging_runner

CONTENT = ("raw", "core", "quality", "endpoints")


def warehouse_digests(warehouse) -> dict[str, str]:
    """Row digests (rows sorted) of every raw, core, quality and endpoint table, and of
    audit.files without first_seen_run (the run id differs between two warehouses)."""
    from isletflow.warehouse import table_digests

    out = table_digests(warehouse, CONTENT)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        out["audit.files"] = repr(con.sql("SELECT * EXCLUDE (first_seen_run) FROM audit.files "
                                          "ORDER BY file_id").fetchall())
    return out


def test_the_default_runner_is_the_flows_own():
    assert staging_runner() is None
    assert staging_runner("", 0) is None and staging_runner("  ", 0) is None


def test_a_dask_runner_for_an_address_or_a_local_cluster_of_processes():
    from prefect_dask import DaskTaskRunner

    remote = staging_runner("tcp://10.0.0.5:8786")
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://10.0.0.5:8786"
    local = staging_runner(dask_workers=3)
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_kwargs["n_workers"] == 3 and local.cluster_kwargs["processes"]


def test_an_address_and_a_local_cluster_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        staging_runner("tcp://10.0.0.5:8786", 2)
    with pytest.raises(ValueError, match="0 .* or more"):
        staging_runner(dask_workers=-1)
    r = CliRunner().invoke(app, ["run", "--landing", ".", "--dask-address", "tcp://10.0.0.5:8786",
                                 "--dask-workers", "2"])
    assert r.exit_code == 2 and "not both" in r.output


@pytest.mark.e2e
def test_staging_on_a_dask_cluster_publishes_the_same_warehouse(tmp_path, prefect_server):
    from distributed import Client, LocalCluster

    from flows.nightly import nightly
    from isletflow.demo import generate_trial

    # the sample trial's first 4 participants (one per site and CGM export format) over 100
    # days, with every planted fault: 139 files (the whole trial's 534 take minutes on Dask:
    # each task's Prefect context costs a worker ~0.3 s)
    generate_trial(tmp_path / "landing", participants=4, days=100)
    landing = str(tmp_path / "landing")
    threads = nightly(landing_dir=landing, warehouse=str(tmp_path / "threads" / "wh.duckdb"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        on_dask = nightly(landing_dir=landing, warehouse=str(tmp_path / "dask" / "wh.duckdb"),
                          dask_address=cluster.scheduler_address)
        with Client(cluster, set_as_default=False) as client:
            ran = client.run(lambda dask_worker: (os.getpid(), dask_worker.state.executed_count))
    # every file was staged by the cluster's two worker processes, none by this one; its own
    # stage folder was empty, so nothing came from a cache
    assert len(ran) == 2 and os.getpid() not in {pid for pid, _ in ran.values()}
    assert sum(n for _, n in ran.values()) == on_dask["files"] == threads["files"]
    assert on_dask["files_cached"] == 0
    assert (tmp_path / "dask" / "stage").is_dir()
    expected = warehouse_digests(tmp_path / "threads" / "wh.duckdb")
    assert len([t for t in expected if t.startswith("endpoints.")]) >= 5
    assert warehouse_digests(tmp_path / "dask" / "wh.duckdb") == expected
    for key in ("files", "files_unreadable", "files_not_loaded", "rows_quarantined",
                "endpoint_rows", "table_rows"):
        assert on_dask[key] == threads[key], key

