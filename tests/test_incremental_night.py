"""Incremental nights (isletflow/build.py plan_night, sql/incremental/): the sample trial's
deliveries replayed night by night give, on the last night, the same tables as a full rebuild
of the same files; a night with no new file changes no table; a night rebuilds only its new
CGM files; the endpoint declarations are checked."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import duckdb
import pytest

from isletflow import build as b
from isletflow.config import PipelineConfig
from isletflow.demo import generate_trial
from isletflow.endpoints.registry import ENDPOINTS, Endpoint, check_declarations
from isletflow.landing import scan_landing
from isletflow.staging import dictionary_for, site_dictionaries, stage_export
from isletflow.warehouse import table_digests

LAYERS = ("raw", "core", "quality", "endpoints")


def night(landing: Path, warehouse: Path, stage: Path, now: dt.datetime,
          full_refresh: bool = False) -> dict:
    """One night as the flow runs it (without Prefect): stage, build, validate, endpoints,
    publish; returns how the night was built (audit.build_state)."""
    cfg = PipelineConfig.from_params(landing, warehouse, None, None, full_refresh, str(stage),
                                     None)
    files, problems = scan_landing(cfg.landing_dir, set(cfg.trial.site_ids))
    dictionaries = site_dictionaries(files)
    staged = [stage_export(f, cfg.stage_dir, dictionary=dictionary_for(f, dictionaries),
                           redcap_fields=cfg.trial.redcap_fields) for f in files]
    run = b.RunInfo(str(uuid.uuid4()), None, now)
    build = b.build_path_for(warehouse, run.run_id)
    b.create_build(cfg, build, files, staged, problems, run)
    b.validate_build(build, now, cfg.trial)
    b.compute_endpoints(build, cfg)
    b.publish(build, cfg, run, len(files))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql("SELECT night, cgm_files_built, cgm_files_kept FROM audit.build_state"
                       ).pl().row(0, named=True)


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """A small sample trial (4 participants, 300 days, the planted faults of the sample trial
    that fall in it) delivered in 4 nights by the files' received times and a fifth night with
    one late lab file; then a night with nothing new; then a full rebuild of the same files
    into another warehouse, in chunks."""
    root = tmp_path_factory.mktemp("replay")
    src = root / "all"
    generate_trial(src, seed=7, participants=4, days=300)
    files = sorted((p for p in src.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime)
    # nights cut so that each brings a quarter of the CGM exports (and what came with them)
    cgm = sorted({p.stat().st_mtime for p in files if p.parent.name == "cgm"})  # (a day's
    # exports share a received time)
    cuts = [cgm[(len(cgm) * (k + 1)) // 4 - 1] for k in range(4)]
    assert len(set(cuts)) == 4 and cuts[-1] == files[-1].stat().st_mtime
    landing, stage = root / "landing", root / "stage"
    # one lab transfer of the last night comes a night late (a fifth night): that night brings
    # no CGM file, and rebuilds only the CGM files whose readings it must check again
    late = [p for p in files if p.parent.name == "lab"][-1]
    nights = []
    for last in [*cuts, cuts[-1]]:
        for p in files:
            q = landing / p.relative_to(src)
            if p.stat().st_mtime <= last and not q.exists() and (p != late or len(nights) == 4):
                q.parent.mkdir(parents=True, exist_ok=True)
                os.link(p, q)  # same bytes, same received time
        now = dt.datetime.fromtimestamp(last, dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=2)
        nights.append(night(landing, root / "inc.duckdb", stage, now))
    before_rerun = table_digests(root / "inc.duckdb", LAYERS)
    rerun = night(landing, root / "inc.duckdb", stage, now + dt.timedelta(days=1))
    with duckdb.connect(str(root / "inc.duckdb"), read_only=True) as con:
        future_files = con.sql("SELECT count(DISTINCT source_file_id) FROM quality.issues "
                               "WHERE rule = 'future_timestamp' AND table_name = 'cgm_readings'"
                               ).fetchall()[0][0]
    # the full rebuild in small pieces: CGM files harmonised and validated in chunks of
    # 20,000 rows, CGM endpoints computed 2 participants at a time (the incremental nights
    # used one chunk and one batch): pieces must not change any table
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(b, "CHUNK_ROWS", 20_000)
        mp.setattr(b, "PARTICIPANT_BATCH", 2)
        full = night(landing, root / "full.duckdb", stage, now, full_refresh=True)
    n_cgm = sum(1 for p in landing.glob("*/cgm/*") if p.is_file())
    return {"root": root, "nights": nights, "rerun": rerun, "full": full,
            "before_rerun": before_rerun, "n_cgm": n_cgm, "future_files": future_files}


def test_last_incremental_night_equals_a_full_rebuild(replay):
    inc = table_digests(replay["root"] / "inc.duckdb", LAYERS)
    full = table_digests(replay["root"] / "full.duckdb", LAYERS)
    assert inc.keys() == full.keys()
    assert len(inc) >= 40  # every raw, core, quality and endpoint table compared
    assert [t for t in sorted(inc) if inc[t] != full[t]] == []


def test_nights_after_the_first_are_incremental_and_build_only_their_files(replay):
    nights = replay["nights"]
    assert [n["night"] for n in nights] == ["full"] + ["incremental"] * 4
    assert nights[0]["cgm_files_kept"] == 0
    for n in nights[1:]:
        assert n["cgm_files_kept"] > 0  # the published CGM files were not built again
    # over the nights each CGM file was built about once, not once per night
    assert sum(n["cgm_files_built"] for n in nights) < 1.5 * replay["n_cgm"]
    # the late lab file's night: no CGM file is new; only the files with readings dated in
    # the future are built again (the planted fault of US01-001's second Clarity export)
    assert replay["future_files"] == 1
    assert nights[4]["cgm_files_built"] == replay["future_files"]
    assert nights[4]["cgm_files_kept"] == replay["n_cgm"] - 1
    assert replay["full"]["night"] == "full"
    assert replay["full"]["cgm_files_built"] == replay["n_cgm"] - sum(
        1 for p in (replay["root"] / "landing").glob("*/cgm/*") if p.stat().st_size == 0)


def test_a_night_with_no_new_file_changes_no_table(replay):
    # (it checks the reading dated in the future again: still in the future, still set aside)
    assert replay["rerun"]["night"] == "incremental"
    assert replay["rerun"]["cgm_files_built"] == replay["future_files"]
    after = table_digests(replay["root"] / "inc.duckdb", LAYERS)
    assert after == replay["before_rerun"]


def test_a_night_with_no_new_file_and_nothing_dated_later_is_not_built(replay, tmp_path):
    import shutil

    wh = tmp_path / "inc.duckdb"
    shutil.copyfile(replay["root"] / "inc.duckdb", wh)
    with duckdb.connect(str(wh)) as con:  # as if the fault had never been sent
        con.execute("DELETE FROM quality.issues WHERE rule = 'future_timestamp'")
    before = table_digests(wh, LAYERS)
    plan = night(replay["root"] / "landing", wh, replay["root"] / "stage",
                 dt.datetime(2030, 1, 1))
    assert plan["night"] == "unchanged" and plan["cgm_files_built"] == 0
    assert table_digests(wh, LAYERS) == before


def test_endpoint_declarations_are_checked():
    check_declarations()  # the project's own
    assert {e.name for e in ENDPOINTS} >= {"cgm_metrics", "primary_endpoint", "igls"}
    reads_later = (Endpoint("a", ("endpoints.b",), lambda t, c: None),
                   Endpoint("b", ("core.infusions",), lambda t, c: None))
    with pytest.raises(ValueError, match="not declared before it"):
        check_declarations(reads_later)
    mixed = (Endpoint("a", ("core.infusions",), lambda t, c: None),
             Endpoint("b", ("endpoints.a",), lambda t, c: None, by_participant=True))
    with pytest.raises(ValueError, match="not computed by participant"):
        check_declarations(mixed)
    with pytest.raises(ValueError, match="is not core"):
        check_declarations((Endpoint("a", ("raw.redcap",), lambda t, c: None),))


def test_cgm_files_of_a_participant_enrolled_a_night_later_are_loaded(tmp_path):
    """A device export arrives before the participant's enrolment form: the first night sets
    it aside (unknown participant); the night the enrolment arrives builds it (its
    participant's enrolment context changed), and nothing says it is still not loaded."""
    src = tmp_path / "all"
    generate_trial(src, seed=7, participants=1, days=40)
    enrolment = src / "US01" / "edc" / "enrolment_2024-02-05.csv"
    landing, stage = tmp_path / "landing", tmp_path / "stage"
    for p in (p for p in src.rglob("*") if p.is_file() and p != enrolment):
        q = landing / p.relative_to(src)
        q.parent.mkdir(parents=True, exist_ok=True)
        os.link(p, q)
    now = dt.datetime(2024, 5, 1)
    first = night(landing, tmp_path / "inc.duckdb", stage, now)
    with duckdb.connect(str(tmp_path / "inc.duckdb"), read_only=True) as con:
        # US01-001's two exports, and the other planted files of unknown participants
        unknown = dict(con.sql("SELECT rule, count(*) FROM quality.quarantined_files "
                               "GROUP BY ALL").fetchall())
        assert con.sql("SELECT count(*) FROM core.cgm_readings").fetchall()[0][0] == 0
    os.link(enrolment, landing / "US01" / "edc" / enrolment.name)
    second = night(landing, tmp_path / "inc.duckdb", stage, now)
    full = night(landing, tmp_path / "full.duckdb", stage, now, full_refresh=True)
    assert (first["night"], second["night"], full["night"]) == ("full", "incremental", "full")
    assert unknown["unknown_participant"] >= 2
    assert second["cgm_files_built"] >= 2  # US01-001's exports, built again
    inc = table_digests(tmp_path / "inc.duckdb", LAYERS)
    assert inc == table_digests(tmp_path / "full.duckdb", LAYERS)
    with duckdb.connect(str(tmp_path / "inc.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM core.cgm_readings").fetchall()[0][0] > 0
        assert con.sql("SELECT count(*) FROM quality.quarantined_files f JOIN audit.files a "
                       "USING (file_id) WHERE a.participant_id = 'US01-001' "
                       "AND a.site_id = 'US01'").fetchall()[0][0] == 0
