"""`isletflow status` on tiny hand-made warehouses and run journals, at a fixed `now`.

Each warehouse is an ``audit.runs`` made with sql/audit/tables.sql's own DDL and a few rows; the
journal lines are written as flows/nightly.py writes them (``started`` / ``failed`` events).
The expected ages are worked out by hand from the times in each test.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from isletflow.runs import journal_path, lock_path
from isletflow.status import (FAILED, INTERRUPTED, NO_WAREHOUSE, OK, STALE, UNREADABLE, check,
                              format_age, parse_duration)

SQL = Path(__file__).resolve().parents[1] / "sql"
NOW = dt.datetime(2025, 6, 21, 12, 0)  # UTC
DAY = dt.timedelta(hours=26)
A = "aaaaaaaa-0000-4000-8000-000000000001"  # published runs
A0 = "a0a0a0a0-0000-4000-8000-000000000000"
B = "bbbbbbbb-0000-4000-8000-000000000002"  # the night's run that went wrong


def _warehouse(path: Path, *runs: tuple) -> Path:
    """A warehouse whose audit.runs holds ``runs``: (run_id, started_at, finished_at, status,
    error)."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA audit")
        con.execute((SQL / "audit" / "tables.sql").read_text())
        for run_id, started, finished, status, error in runs:
            con.execute("INSERT INTO audit.runs (run_id, started_at, finished_at, status, "
                        "full_refresh, package_versions, error) VALUES (?, ?, ?, ?, false, "
                        "'{}', ?)", [run_id, started, finished, status, error])
    return path


def _journal(warehouse: Path, *events: tuple) -> None:
    """Journal lines (run_id, status, at[, error]) as isletflow.runs.journal writes them."""
    with journal_path(warehouse).open("a") as fh:
        for run_id, status, at, *error in events:
            event = {"run_id": run_id, "status": status, "at": at.isoformat()}
            if status == "started":
                event.update(flow_run_id=run_id, full_refresh=False, package_versions="{}")
            if error:
                event["error"] = error[0]
            fh.write(json.dumps(event) + "\n")


def t(day: int, hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime(2025, 6, day, hh, mm, ss)


@pytest.fixture
def published(tmp_path) -> Path:
    """Two published nights; the last finished 2025-06-21 06:42 UTC, 5 h 18 min before NOW.
    Its journal has both runs' start and publish events."""
    wh = _warehouse(tmp_path / "warehouse.duckdb",
                    (A0, t(20, 6, 30), t(20, 6, 41), "published", None),
                    (A, t(21, 6, 30), t(21, 6, 42), "published", None))
    _journal(wh, (A0, "started", t(20, 6, 30)), (A0, "published", t(20, 6, 41)),
             (A, "started", t(21, 6, 30)), (A, "published", t(21, 6, 42)))
    return wh


def test_a_warehouse_restored_from_an_older_copy_is_stale_not_interrupted(tmp_path):
    """The journal knows a night published after the copy was made: that night is not a
    killed run (the restored file is what is published now: its age decides)."""
    wh = _warehouse(tmp_path / "warehouse.duckdb",
                    (A0, t(20, 6, 30), t(20, 6, 41), "published", None))
    _journal(wh, (A0, "started", t(20, 6, 30)), (A0, "published", t(20, 6, 41)),
             (A, "started", t(21, 6, 30)), (A, "published", t(21, 6, 42)))
    assert check(wh, dt.timedelta(hours=26), NOW) == (
        STALE, "stale: last night published 2025-06-20 06:41 UTC (1d 5h ago, more than "
               "--max-age 1d 2h), run a0a0a0a0")


def test_fresh(published):
    assert check(published, DAY, now=NOW) == (
        OK, "ok: last night published 2025-06-21 06:42 UTC (5h 18m ago), run aaaaaaaa")


def test_now_may_be_timezone_aware(published):
    toronto = dt.datetime(2025, 6, 21, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))  # EDT
    assert check(published, DAY, now=toronto) == check(published, DAY, now=NOW)


def test_stale(tmp_path):
    wh = _warehouse(tmp_path / "warehouse.duckdb",
                    (A, t(19, 6, 30), t(19, 6, 42), "published", None))
    # 2025-06-19 06:42 to 2025-06-21 12:00 is 2 days 5 h 18 min; 26 h is 1 day 2 h
    assert check(wh, DAY, now=NOW) == (
        STALE, "stale: last night published 2025-06-19 06:42 UTC (2d 5h ago, more than "
               "--max-age 1d 2h), run aaaaaaaa")
    assert check(wh, dt.timedelta(days=3), now=NOW)[0] == OK


def test_failed_run_only_in_the_journal(published):
    """The night's run failed after the last publish: only the journal knows it."""
    _journal(published, (B, "started", t(21, 7, 30)),
             (B, "failed", t(21, 7, 31, 10), "OutOfMemoryException"))
    assert check(published, DAY, now=NOW) == (
        FAILED, "failed: last run bbbbbbbb failed (OutOfMemoryException) at 2025-06-21 07:31 "
                "UTC (4h 28m ago); last night published 2025-06-21 06:42 UTC (5h 18m ago), "
                "run aaaaaaaa")


def test_a_failure_before_the_last_publish_is_history(tmp_path):
    """A failed run that a later run recorded in audit.runs is not the last run."""
    wh = _warehouse(tmp_path / "warehouse.duckdb",
                    (B, t(21, 5, 0), t(21, 5, 1), "failed", "ValueError"),
                    (A, t(21, 6, 30), t(21, 6, 42), "published", None))
    assert check(wh, DAY, now=NOW)[0] == OK


def test_interrupted(published):
    """Started, never finished, and the lock is free: the run was killed."""
    _journal(published, (B, "started", t(21, 7, 30)))
    assert check(published, DAY, now=NOW) == (
        INTERRUPTED, "interrupted: last run bbbbbbbb was interrupted (killed or crashed): "
                     "started 2025-06-21 07:30 UTC (4h 30m ago), never finished; last night "
                     "published 2025-06-21 06:42 UTC (5h 18m ago), run aaaaaaaa")


def test_a_run_holding_the_lock_is_in_progress_not_interrupted(published):
    _journal(published, (B, "started", t(21, 7, 30)))
    with lock_path(published).open("a+") as fh:  # as isletflow.runs.run_lock holds it
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("pid 4242")
        fh.flush()
        during = check(published, DAY, now=NOW)
    assert during == (OK, "ok: last night published 2025-06-21 06:42 UTC (5h 18m ago), run "
                          "aaaaaaaa; run bbbbbbbb in progress since 2025-06-21 07:30 UTC")
    assert check(published, DAY, now=NOW)[0] == INTERRUPTED  # lock let go, never finished


def test_no_warehouse(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    assert check(wh, DAY, now=NOW) == (NO_WAREHOUSE, f"no warehouse: {wh} does not exist")
    _journal(wh, (B, "started", t(21, 7, 30)),
             (B, "failed", t(21, 7, 31, 10), "TrialDefinitionError"))
    assert check(wh, DAY, now=NOW) == (
        NO_WAREHOUSE, f"no warehouse: {wh} does not exist; last run bbbbbbbb failed "
                      "(TrialDefinitionError) at 2025-06-21 07:31 UTC (4h 28m ago)")


def test_unreadable(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    wh.write_bytes(b"not a DuckDB file" * 300)
    code, line = check(wh, DAY, now=NOW)
    assert code == UNREADABLE and line.startswith(f"unreadable: cannot read audit.runs of {wh} (")


@pytest.mark.parametrize("text, expected", [
    ("26h", dt.timedelta(hours=26)), ("90m", dt.timedelta(minutes=90)),
    ("2d", dt.timedelta(days=2)), ("1d12h", dt.timedelta(hours=36)),
    ("45s", dt.timedelta(seconds=45))])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["26", "1.5h", "h", "0h", "12h1d", "26 hours", "", "-2h"])
def test_not_durations(text):
    with pytest.raises(ValueError, match="e.g. 26h|longer than zero"):
        parse_duration(text)


def test_format_age():
    assert [format_age(dt.timedelta(seconds=s)) for s in (-5, 59, 100, 3600 * 5 + 7 * 60 + 59,
                                                          86400 * 2 + 3 * 3600 + 59 * 60)] == \
        ["0m 0s", "0m 59s", "1m 40s", "5h 7m", "2d 3h"]


def test_command_line_prints_one_line_without_importing_prefect(published):
    """The installed command: exit code, one line, fast; Prefect is never imported."""
    exe = str(Path(sys.executable).with_name("isletflow"))
    t0 = time.perf_counter()
    out = subprocess.run([exe, "status", "--warehouse", str(published), "--max-age", "36500d"],
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    assert out.returncode == OK and out.stdout.count("\n") == 1, out.stderr
    assert out.stdout.startswith("ok: last night published 2025-06-21 06:42 UTC (")
    assert out.stdout.endswith(" ago), run aaaaaaaa\n")
    assert wall < 5  # measured ~0.3 s; Prefect's import alone takes longer than that
    bad = subprocess.run([exe, "status", "--warehouse", str(published), "--max-age", "26"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "is not a duration" in bad.stderr
    probe = subprocess.run([sys.executable, "-c", (
        "import sys\nfrom isletflow.cli import app\n"
        "try:\n    app(['status', '--warehouse', sys.argv[1]])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))"),
        str(published)], capture_output=True, text=True)
    assert probe.stdout.splitlines()[-1] == "[]", probe.stderr
