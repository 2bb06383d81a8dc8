"""Operations under a real Prefect server: data cuts, SIGKILL at several points of a run,
querying while a run is writing, and the audit record of every run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.nightly import nightly
from isletflow.cli import app
from isletflow.config import PROJECT_ROOT
from isletflow.demo import generate_trial
from isletflow.warehouse import table_digests

pytestmark = pytest.mark.e2e
ISLETFLOW = str(Path(sys.executable).with_name("isletflow"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _set_received(root: Path, when: dt.datetime) -> None:
    for p in root.rglob("*.csv"):
        os.utime(p, (when.timestamp(), when.timestamp()))


@pytest.fixture(scope="module")
def trial(tmp_path_factory, prefect_server):
    root = tmp_path_factory.mktemp("ops")
    generate_trial(root / "landing", seed=5, participants=4, days=40)
    _set_received(root / "landing", dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC))
    return root


def test_a_cut_uses_only_files_received_by_its_date_and_rebuilds_identically(trial):
    late = sorted((trial / "landing" / "US01" / "cgm").glob("*.csv"))[-1]
    os.utime(late, (dt.datetime(2025, 7, 2, tzinfo=dt.UTC).timestamp(),) * 2)
    cuts, stage = trial / "cuts", trial / "stage"
    args = ["cut", "--as-of", "2025-06-30", "--landing", str(trial / "landing"),
            "--cuts-dir", str(cuts), "--stage-dir", str(stage)]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    cut = cuts / "2025-06-30.duckdb"
    assert cut.stat().st_mode & 0o777 == 0o444
    with duckdb.connect(str(cut), read_only=True) as con:
        paths = {r[0] for r in con.sql("SELECT rel_path FROM audit.files").fetchall()}
        used = con.sql("SELECT f.rel_path, f.sha256 FROM audit.runs AS r JOIN audit.files AS f "
                       "ON f.file_id = r.trial_file_id WHERE r.status = 'published'").fetchall()
    assert f"US01/cgm/{late.name}" not in paths and len(paths) > 30
    # the cut records the trial definition it was built with (the default: the sample trial)
    sample = PROJECT_ROOT / "trials" / "islet-101.toml"
    assert used == [("trials/islet-101.toml", hashlib.sha256(sample.read_bytes()).hexdigest())]
    sums = json.loads((cuts / "2025-06-30.sha256.json").read_text())
    assert sums["trial"]["sha256"] == used[0][1]
    again = runner.invoke(app, args)  # an existing cut is never overwritten
    assert again.exit_code == 2 and "read-only" in again.output
    verify = runner.invoke(app, args + ["--verify"])
    assert verify.exit_code == 0, verify.output
    recorded = json.loads((cuts / "2025-06-30.sha256.json").read_text())["endpoint_tables"]
    assert len(recorded) == 17 and f"17 of 17 endpoint tables identical" in verify.output
    assert recorded == table_digests(cut)


def _run_until(env: dict, landing: Path, wh: Path, marker: str) -> subprocess.Popen:
    """Start `isletflow run` and return once its log shows ``marker`` (the process still runs)."""
    proc = subprocess.Popen([ISLETFLOW, "run", "--landing", str(landing), "--warehouse",
                             str(wh), "--no-summary"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            return proc
    proc.wait()
    raise AssertionError(f"the run ended before {marker!r}:\n{''.join(seen[-30:])}")


def test_sigkill_at_any_point_leaves_the_published_warehouse_intact(trial):
    from prefect.settings import get_current_settings

    landing, wh = trial / "landing", trial / "kill" / "warehouse.duckdb"
    nightly(landing_dir=str(landing), warehouse=str(wh))
    published, endpoints = _sha(wh), table_digests(wh)
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PREFECT_API_URL": str(get_current_settings().api.url)}
    # while staging files, as the build's core is written, as endpoints are computed
    points = ["Task run 'stage ", "raw/core built", "rows quarantined per core table"]
    for point in points:
        proc = _run_until(env, landing, wh, point)
        # the warehouse answers queries while the run is writing its new build
        q = CliRunner().invoke(app, ["query", "SELECT count(*) AS n FROM endpoints.primary_endpoint",
                                     "--warehouse", str(wh)])
        assert q.exit_code == 0, q.output
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _sha(wh) == published, f"published warehouse changed by a kill at {point}"
        assert table_digests(wh) == endpoints
    t0 = time.perf_counter()
    clean = subprocess.run([ISLETFLOW, "run", "--landing", str(landing), "--warehouse", str(wh),
                            "--no-summary"], env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout[-2000:] + clean.stderr[-2000:]
    print(f"after SIGKILL: next clean run took {time.perf_counter() - t0:.1f} s")
    assert not list(wh.parent.glob(".warehouse.duckdb.building-*"))
    assert table_digests(wh) == endpoints  # same files: every endpoint table identical
    with duckdb.connect(str(wh), read_only=True) as con:
        runs = dict(con.sql("SELECT status, count(*) FROM audit.runs GROUP BY ALL").fetchall())
        last = con.sql("SELECT package_versions, git_commit, finished_at FROM audit.runs "
                       "WHERE status = 'published' ORDER BY started_at DESC LIMIT 1").fetchall()[0]
    assert runs == {"published": 2, "interrupted": len(points)}
    assert json.loads(last[0])["prefect"] == "3.9.1" and last[2] is not None
