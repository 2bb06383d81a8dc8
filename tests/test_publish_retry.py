"""The publish task has retries: a second call after a first that got part-way must finish the
same publish, never record the run twice, and never rename anything but the build."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import duckdb
import pytest

from isletflow.build import RunInfo, publish
from isletflow.warehouse import sql_text


def _build(path):
    with duckdb.connect(str(path)) as con:
        con.execute(sql_text("schemas.sql"))
        con.execute(sql_text("audit/tables.sql"))
        con.execute("CREATE SCHEMA work")
        con.execute(sql_text("incremental/work_tables.sql"))
        con.execute("INSERT INTO work.build_state (night, reason) VALUES ('full', 'first night')")
        con.execute("CREATE TABLE core.participants AS SELECT * FROM range(3) t(participant_no)")
        con.execute("CREATE TABLE endpoints.primary_endpoint AS SELECT 1 AS met")


def _cfg(tmp_path):
    return SimpleNamespace(warehouse=tmp_path / "warehouse.duckdb", as_of=None, sites=None,
                           full_refresh=False, trial=SimpleNamespace(sha256="ab" * 32))


RUN = RunInfo(run_id="run-1", flow_run_id=None, started_at=dt.datetime(2026, 11, 27, 2, 30))


def _runs(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return (con.sql("SELECT run_id, status FROM audit.runs").fetchall(),
                con.sql("SELECT count(*) FROM audit.table_rows").fetchall()[0][0],
                con.sql("SELECT night FROM audit.build_state").fetchall(),
                con.sql("SELECT count(*) FROM information_schema.schemata "
                        "WHERE schema_name = 'work'").fetchall()[0][0])


def test_publish_retried_after_the_rename_returns_the_published_counts(tmp_path):
    cfg, build = _cfg(tmp_path), tmp_path / ".warehouse.duckdb.building-run-1"
    _build(build)
    first = publish(build, cfg, RUN, n_files=2)
    assert first == {"core.participants": 3, "endpoints.primary_endpoint": 1}
    assert not build.exists()
    assert publish(build, cfg, RUN, n_files=2) == first  # the retry: build already renamed
    # one run row, one row per table (2), the build state kept, the work schema gone
    assert _runs(cfg.warehouse) == ([("run-1", "published")], 2, [("full",)], 0)


def test_publish_retried_after_recording_but_before_the_rename_finishes_it(tmp_path):
    cfg, build = _cfg(tmp_path), tmp_path / ".warehouse.duckdb.building-run-1"
    _build(build)
    publish(build, cfg, RUN, n_files=2)
    cfg.warehouse.rename(build)  # as if the first attempt had stopped just before os.replace
    assert publish(build, cfg, RUN, n_files=2) == {"core.participants": 3,
                                                   "endpoints.primary_endpoint": 1}
    assert _runs(cfg.warehouse) == ([("run-1", "published")], 2, [("full",)], 0)


def test_publish_without_a_build_of_an_unpublished_run_fails(tmp_path):
    cfg = _cfg(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not record run run-1 as published"):
        publish(tmp_path / ".warehouse.duckdb.building-run-1", cfg, RUN, n_files=0)
    assert not cfg.warehouse.exists()
