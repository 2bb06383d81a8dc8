"""Run control: the per-warehouse lock, leftovers of killed runs, the run journal, and the
endpoint changes a run reports. Pure functions and files; no Prefect."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing as mp
import time

import polars as pl

from isletflow.run_summary import endpoint_changes
from isletflow.runs import (journal, journal_path, remove_stale_builds, run_lock,
                            unpublished_runs)

LOG = logging.getLogger("test")


def _hold_lock(warehouse, seconds):
    with run_lock(warehouse, LOG):
        time.sleep(seconds)


def test_a_second_run_waits_for_the_lock(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    other = mp.get_context("fork").Process(target=_hold_lock, args=(wh, 1.5))
    other.start()
    time.sleep(0.5)  # the other process holds the lock by now
    t0 = time.perf_counter()
    with run_lock(wh, LOG):
        waited = time.perf_counter() - t0
    other.join()
    assert waited > 0.7  # it waited for the other run's 1.5 s hold, started 0.5 s earlier


def test_a_killed_holder_does_not_block_the_next_run(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    other = mp.get_context("fork").Process(target=_hold_lock, args=(wh, 60))
    other.start()
    time.sleep(0.5)
    other.kill()  # SIGKILL: the kernel releases its flock
    other.join()
    t0 = time.perf_counter()
    with run_lock(wh, LOG):
        pass
    assert time.perf_counter() - t0 < 5


def test_stale_builds_are_removed_and_named(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    wh.write_bytes(b"published")
    (tmp_path / ".warehouse.duckdb.building-run-a").write_bytes(b"x")
    (tmp_path / ".warehouse.duckdb.building-run-a.wal").write_bytes(b"x")
    (tmp_path / ".other.duckdb.building-run-b").write_bytes(b"x")
    assert remove_stale_builds(wh) == ["run-a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.duckdb.building-run-b",
                                                          "warehouse.duckdb"]


def test_journal_gives_failed_and_interrupted_runs_but_not_the_current_one(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    journal(wh, "r1", "started", as_of=dt.date(2025, 3, 1), package_versions="{}")
    journal(wh, "r1", "failed", error="ValueError")
    journal(wh, "r2", "started", package_versions="{}")          # killed: no end event
    journal(wh, "r2", "interrupted")                             # its build found later
    journal(wh, "r3", "started", package_versions="{}")          # the run now going on
    with journal_path(wh).open("a") as fh:
        fh.write('{"run_id": "r4", "sta')                        # cut short by a kill
    runs = {r["run_id"]: r for r in unpublished_runs(wh, current_run_id="r3")}
    assert set(runs) == {"r1", "r2"}
    assert runs["r1"]["status"] == "failed" and runs["r1"]["error"] == "ValueError"
    assert runs["r1"]["as_of"] == dt.date(2025, 3, 1)
    assert isinstance(runs["r1"]["finished_at"], dt.datetime)
    assert runs["r2"]["status"] == "interrupted" and runs["r2"].get("finished_at") is None


def test_a_published_run_is_never_reported_unpublished(tmp_path):
    """A warehouse restored from a backup (or deleted for a rebuild) knows fewer runs than the
    journal: the nights published since are not killed ones."""
    wh = tmp_path / "warehouse.duckdb"
    journal(wh, "r1", "started", package_versions="{}")
    journal(wh, "r1", "published")
    journal(wh, "r2", "started", package_versions="{}")
    journal(wh, "r2", "published")
    journal(wh, "r2", "failed", error="OSError")  # a step after its publish failed
    journal(wh, "r3", "started", package_versions="{}")  # killed
    assert [(r["run_id"], r["status"]) for r in unpublished_runs(wh, "r4")] == \
        [("r3", "interrupted")]


def test_an_event_after_a_line_cut_short_is_kept(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    journal(wh, "r1", "started", package_versions="{}")
    with journal_path(wh).open("a") as fh:
        fh.write('{"run_id": "r1", "sta')  # the kill
    journal(wh, "r1", "interrupted")
    journal(wh, "r2", "started", package_versions="{}")
    journal(wh, "r2", "failed", error="ValueError")
    assert journal_path(wh).read_text().count("\n") == 5
    runs = {r["run_id"]: r["status"] for r in unpublished_runs(wh, "r3")}
    assert runs == {"r1": "interrupted", "r2": "failed"}


def test_endpoint_changes_lists_only_values_that_differ():
    before = pl.DataFrame({"participant": ["A", "B"], "last HbA1c %": [6.1, 7.2],
                           "primary met": [True, False]})
    after = pl.DataFrame({"participant": ["A", "B", "C"], "last HbA1c %": [6.1, 6.8, 6.9],
                          "primary met": [True, False, None]})
    assert endpoint_changes(before, after).rows() == [("B", "last HbA1c %", "7.2", "6.8"),
                                                      ("C", "last HbA1c %", None, "6.9")]
    assert endpoint_changes(None, after).height == 0  # a first run has nothing to compare
