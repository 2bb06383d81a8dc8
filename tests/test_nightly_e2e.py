"""The real nightly flow under a Prefect server, on generated trials."""

from __future__ import annotations

import base64
import csv
import json
import logging
import re

import duckdb
import pytest

from flows.nightly import nightly
from isletflow.demo import generate_trial
from isletflow.warehouse import LAYERS, table_digests

pytestmark = pytest.mark.e2e


def content_digests(warehouse) -> dict[str, str]:
    return table_digests(warehouse, ("raw", "core", "quality", "endpoints"))


class _Grab(logging.Handler):
    """Keeps every log record of the runs, to prove no personal data is logged."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def small_trial(tmp_path_factory, prefect_server):
    grab = _Grab()
    logging.getLogger().addHandler(grab)
    root = tmp_path_factory.mktemp("small")
    # 4 participants, one per site and export format, with every kind of planted fault
    manifest = generate_trial(root / "landing", seed=11, participants=4, days=100)
    wh = root / "warehouse.duckdb"
    first = nightly(landing_dir=str(root / "landing"), warehouse=str(wh))
    digest = content_digests(wh)
    second = nightly(landing_dir=str(root / "landing"), warehouse=str(wh))
    logging.getLogger().removeHandler(grab)
    manifest.log_lines = grab.lines
    return manifest, wh, first, second, digest


def test_every_layer_is_published(small_trial):
    _, wh, first, _, _ = small_trial
    with duckdb.connect(str(wh), read_only=True) as con:
        schemas = {r[0] for r in con.sql("SELECT schema_name FROM information_schema.schemata")
                   .fetchall()}
        assert set(LAYERS) <= schemas
        assert con.sql("SELECT count(*) FROM raw.dexcom_clarity").fetchall()[0][0] > 0
        assert con.sql("SELECT count(*) FROM audit.runs").fetchall()[0][0] == 2
    assert not list(wh.parent.glob(".warehouse.duckdb.building-*"))  # nothing half-written
    assert first["files"] > 0


def test_core_rows_carry_lineage_to_a_registered_file_and_line(small_trial):
    _, wh, _, _, _ = small_trial
    with duckdb.connect(str(wh), read_only=True) as con:
        for t in ("cgm_readings", "lab_results", "participants", "she_events"):
            orphans = con.sql(
                f"SELECT count(*) FROM core.{t} c LEFT JOIN audit.files f "
                "ON f.file_id = c.source_file_id WHERE f.file_id IS NULL OR c.source_row < 2"
            ).fetchall()[0][0]
            assert orphans == 0, t
        # a core reading traces back to exactly its raw row
        row = con.sql("SELECT c.glucose_original, r.glucose_value FROM core.cgm_readings c "
                      "JOIN raw.dexcom_clarity r ON r.file_id = c.source_file_id "
                      "AND r.row_number = c.source_row LIMIT 1").fetchall()[0]
        assert row[0] == row[1]


def test_endpoint_rows_per_participant(small_trial):
    manifest, wh, _, _, _ = small_trial
    with duckdb.connect(str(wh), read_only=True) as con:
        per = dict(con.sql("SELECT participant_id, count(*) FROM endpoints.cgm_metrics "
                           "GROUP BY ALL").fetchall())
        assert per == {p: 5 for p in manifest.participants}  # baseline + 4 follow-up windows
        for t in ("she_free", "insulin_independence", "primary_endpoint",
                  "participant_summary"):
            ids = [r[0] for r in con.sql(f"SELECT participant_id FROM endpoints.{t} "
                                         "ORDER BY 1").fetchall()]
            assert ids == sorted(manifest.participants), t
        # 100 days of follow-up: no HbA1c time point from day 180, so not evaluable (null)
        assert con.sql("SELECT count(*) FROM endpoints.primary_endpoint WHERE primary_met "
                       "IS NOT NULL").fetchall()[0][0] == 0


def test_every_planted_fault_is_reported_with_its_file_line_and_rule(small_trial):
    manifest, wh, first, _, _ = small_trial
    with duckdb.connect(str(wh), read_only=True) as con:
        reported = con.sql("SELECT file, rule, row FROM quality.site_queries "
                           "WHERE severity = 'error'").fetchall()
        sites = dict(con.sql("SELECT file, site_id FROM quality.site_queries").fetchall())
    planted = [(f.rel_path, f.rule, f.row) for f in manifest.planted_faults]
    assert len(planted) == 17
    assert sorted(reported, key=str) == sorted(planted, key=str)  # each found, nothing else
    assert all(sites[f] == f.split("/")[0] for f, _, _ in planted)  # traced to the sender
    # 6 CGM rows (2 impossible values, 1 future, 1 before enrolment, 2 conflicting) and
    # 2 lab rows (HbA1c 40 %, unknown participant) were moved out of core; 8 files not loaded
    # (empty, unknown format, renamed column, header only, UTF-16, duplicate, and the CGM
    # files of an unknown participant and from the wrong site): the faults of a whole file
    assert first["rows_quarantined"]["cgm_readings"] == 6
    assert first["rows_quarantined"]["lab_results"] == 2
    assert first["files_not_loaded"] == 8 == sum(f.row is None for f in manifest.planted_faults)


def test_quarantined_rows_keep_their_values_and_leave_core(small_trial):
    _, wh, _, _, _ = small_trial
    with duckdb.connect(str(wh), read_only=True) as con:
        hba1c = con.sql("SELECT value FROM quality.issues WHERE table_name = 'lab_results' "
                        "AND rule LIKE 'gx:%'").fetchall()
        assert hba1c == [("40.0",)]
        assert con.sql("SELECT count(*) FROM core.lab_results WHERE test_code = 'HBA1C' "
                       "AND value > 20").fetchall()[0][0] == 0
        moved = con.sql("SELECT table_name, count(*) FROM quality.quarantined_rows "
                        "GROUP BY ALL ORDER BY 1").fetchall()
        assert moved == [("cgm_readings", 6), ("lab_results", 2)]
        glucose = sorted(r[0] for r in con.sql(
            "SELECT json_extract_string(row_json, '$.glucose_original') FROM "
            "quality.quarantined_rows WHERE row_json LIKE '%US01-001%' AND "
            "json_extract_string(row_json, '$.glucose_mg_dl')::DOUBLE NOT BETWEEN 40 AND 400"
        ).fetchall())
        assert glucose == ["0", "2000"]
        # the misfiled and the unknown participant's CGM files reach raw, never core
        files = dict(con.sql("SELECT rel_path, file_id FROM audit.files").fetchall())
        for rel in ("CA01/cgm/US01-001__clarity_export_misfiled.csv",
                    "US01/cgm/US01-099__clarity_export.csv"):
            fid = files[rel]
            assert con.sql(f"SELECT count(*) FROM raw.dexcom_clarity WHERE file_id = '{fid}'"
                           ).fetchall()[0][0] > 0
            assert con.sql(f"SELECT count(*) FROM core.cgm_readings WHERE source_file_id = "
                           f"'{fid}'").fetchall()[0][0] == 0
    listing = (wh.parent / "quality/US01_queries.csv").read_text()
    assert "US01-001__clarity_export_2.csv" in listing and "future_timestamp" in listing


def test_reexports_overlap_and_the_later_correction_supersedes(small_trial):
    _, wh, _, _, _ = small_trial
    with duckdb.connect(str(wh), read_only=True) as con:
        status = dict(con.sql("SELECT record_status, count(*) FROM core.cgm_readings GROUP BY ALL")
                      .fetchall())
        sup = con.sql("SELECT s.participant_id, old_glucose_mg_dl, new_glucose_mg_dl, "
                      "f_old.rel_path, f_new.rel_path FROM audit.superseded_values s "
                      "JOIN audit.files f_old ON f_old.file_id = s.old_file_id "
                      "JOIN audit.files f_new ON f_new.file_id = s.new_file_id").fetchall()
        dup_current = con.sql("SELECT count(*) FROM (SELECT participant_id, device, "
                              "timestamp_utc FROM core.cgm_readings WHERE record_status = 'current' "
                              "GROUP BY ALL HAVING count(*) > 1)").fetchall()[0][0]
    assert status["overlap"] > 1000  # the overlapping days of every re-export
    assert dup_current == 0          # one current reading per participant, device and time
    # CA01-003's later export corrected 3 readings by +25 mg/dL (planted in mmol/L, 1 decimal)
    assert len(sup) == 3 and status["superseded"] == 3
    for pid, old, new, old_file, new_file in sup:
        assert pid == "CA01-003"
        assert old_file.endswith("_1.csv") and new_file.endswith("_2.csv")
        assert 22 <= new - old <= 28


def test_rerun_on_the_same_files_changes_no_table(small_trial):
    _, wh, first, second, digest = small_trial
    assert content_digests(wh) == digest
    # every readable file was staged once and not parsed again; unreadable ones are retried
    assert second["files"] == first["files"]
    assert second["files_cached"] == first["files"] - first["files_unreadable"]
    assert first["files_unreadable"] == 5


def test_no_planted_personal_data_anywhere_in_the_warehouse(small_trial):
    manifest, wh, _, _, _ = small_trial
    assert manifest.planted_phi
    with duckdb.connect(str(wh), read_only=True) as con:
        cols = con.sql("SELECT table_schema, table_name, column_name FROM "
                       "information_schema.columns WHERE data_type = 'VARCHAR'").fetchall()
        for s, t, c in cols:
            text = con.sql(f'SELECT string_agg("{c}", \'|\') FROM {s}."{t}"').fetchall()[0][0]
            for phi in manifest.planted_phi:
                assert phi not in (text or ""), f"{phi!r} found in {s}.{t}.{c}"


def test_cli_query_reads_the_warehouse_and_cannot_write_it(small_trial):
    from typer.testing import CliRunner

    from isletflow.cli import app

    manifest, wh, _, _, _ = small_trial
    runner = CliRunner()
    ok = runner.invoke(app, ["query", "SELECT count(*) AS n FROM core.participants "
                             "WHERE record_status = 'current'", "--warehouse", str(wh)])
    assert ok.exit_code == 0, ok.output
    assert re.search(r"│\s*4\s*│", ok.output), ok.output
    bad = runner.invoke(app, ["query", "DELETE FROM core.participants", "--warehouse", str(wh)])
    assert bad.exit_code != 0
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM core.participants "
                       "WHERE record_status = 'current'").fetchall()[0][0] == 4
    summary = runner.invoke(app, ["summary", "--warehouse", str(wh)])
    assert summary.exit_code == 0 and "Trial totals" in summary.output
    out = wh.parent / "us01.csv"
    listing = runner.invoke(app, ["queries", "--site", "US01", "--warehouse", str(wh),
                                  "--out", str(out)])
    assert listing.exit_code == 0, listing.output
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["file", "row", "participant_id", "rule", "severity",
                             "column_name", "value", "since", "message"]
    assert sum(1 for r in rows if r["file"]) == sum(1 for f in manifest.planted_faults
                                                    if f.rel_path.startswith("US01/"))
    # the missing-data queries of US01's one participant: 100 days of data, then nothing up
    # to today (no disposition: on study): the CGM gap, the diary of each follow-up visit
    # after day 100 and the HbA1c of the trial file's hba1c_visits among them
    assert sorted((r["participant_id"], r["rule"], r["value"]) for r in rows
                  if not r["file"] and r["rule"] != "cgm_gap") == [
        ("US01-001", "visit_no_form", f"day_{d}") for d in (120, 180, 270, 365)] + [
        ("US01-001", "visit_no_hba1c", f"day_{d}") for d in (180, 270, 365)]
    assert [r["participant_id"] for r in rows if r["rule"] == "cgm_gap"] == ["US01-001"]


def test_no_planted_personal_data_in_the_logs(small_trial):
    manifest, _, _, _, _ = small_trial
    assert len(manifest.log_lines) > 50  # the runs did log
    text = "\n".join(manifest.log_lines)
    for phi in manifest.planted_phi:
        assert phi not in text, phi


def test_html_report_of_the_published_warehouse_is_self_contained(small_trial):
    from typer.testing import CliRunner

    from isletflow.cli import app

    manifest, wh, _, second, _ = small_trial
    r = CliRunner().invoke(app, ["report", "--warehouse", str(wh)])
    assert r.exit_code == 0, r.output
    out = wh.parent / "reports" / f"warehouse-{second['run_id'][:8]}.html"  # the run's report
    page = out.read_text(encoding="utf-8")
    assert "http" not in page.lower() and "<script" not in page and "<link" not in page
    sections = dict(re.findall(r'<section class="participant" id="p-([A-Z0-9-]+)">(.*?)'
                               r"</section>", page, re.S))
    assert sorted(sections) == sorted(manifest.participants)
    for pid, body in sections.items():
        assert pid in body and body.count('<img src="data:image/svg+xml;base64,') == 1, pid
        svg = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", body).group(1)).decode()
        # 100 days of follow-up: the AGP shows the latest window with readings (day 90)
        assert "none in the day 365 window" in svg and "days 63 to 90" in svg, pid
    assert out.stat().st_size < 5_000_000


def test_each_run_leaves_a_markdown_and_a_table_artifact_without_personal_data(small_trial):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    manifest, wh, first, second, _ = small_trial
    with get_client(sync_client=True) as client:
        arts = {a.key: a for a in client.read_artifacts(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[first["run_id"], second["run_id"]])))
            if a.flow_run_id and str(a.flow_run_id) == second["run_id"]}
    assert set(arts) == {"nightly-run-summary", "nightly-endpoint-summary"}
    md = arts["nightly-run-summary"].data
    for heading in ("## Files by site", "## Rows per layer",
                    "## Quarantine and data queries by site",
                    "## Endpoint values changed since the previous run", "## Validation"):
        assert heading in md
    # the second run read nothing new: every loaded file is unchanged, no endpoint changed
    assert "| US01 | cgm | 0 | 0 |" in md
    assert "Endpoint values changed since the previous run\n\n_none_" in md
    assert (wh.parent / "gx_docs" / "index.html").exists() and "gx_docs/index.html" in md
    table = arts["nightly-endpoint-summary"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert sorted(r["participant"] for r in table) == sorted(manifest.participants)
    for phi in manifest.planted_phi:
        assert phi not in md and phi not in json.dumps(table)
