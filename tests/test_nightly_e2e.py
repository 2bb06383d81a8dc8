"""The real nightly flow under a Prefect server, on generated trials."""

from __future__ import annotations

import hashlib
import re

import duckdb
import pytest

from flows.nightly import nightly
from isletflow.demo import generate_trial
from isletflow.warehouse import LAYERS

pytestmark = pytest.mark.e2e


def content_digests(warehouse, schemas=("raw", "core", "quality", "endpoints")) -> dict[str, str]:
    """A digest of every table's full contents (rows sorted), per table."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.sql("SELECT table_schema, table_name FROM information_schema.tables "
                         "WHERE table_type = 'BASE TABLE'").fetchall()
        for s, t in sorted(tables):
            if s in schemas:
                rows = con.sql(f'SELECT * FROM {s}."{t}" ORDER BY ALL').fetchall()
                out[f"{s}.{t}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


@pytest.fixture(scope="module")
def small_trial(tmp_path_factory, prefect_server):
    root = tmp_path_factory.mktemp("small")
    manifest = generate_trial(root / "landing", seed=11, participants=4, days=100)
    # two bad rows a site could send: an impossible HbA1c and an unreadable glucose value
    with (root / "landing/US01/lab/central_lab_results.csv").open("a") as fh:
        fh.write("US01-001,day_90,2024-06-01,HBA1C,Hemoglobin A1c,40,%\n")
    with (root / "landing/DE01/cgm/DE01-001__clarity_export.csv").open("a", newline="") as fh:
        fh.write("99999,2024-06-01T12:00:00,EGV,,,,Android G6,abc,,,,,1,\r\n")
    wh = root / "warehouse.duckdb"
    first = nightly(landing_dir=str(root / "landing"), warehouse=str(wh))
    digest = content_digests(wh)
    second = nightly(landing_dir=str(root / "landing"), warehouse=str(wh))
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
    assert first["files_not_loaded"] == 0


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
        for t in ("she_free_d90_365", "insulin_independence", "primary_endpoint",
                  "participant_summary"):
            ids = [r[0] for r in con.sql(f"SELECT participant_id FROM endpoints.{t} "
                                         "ORDER BY 1").fetchall()]
            assert ids == sorted(manifest.participants), t
        # 100 days of follow-up: no HbA1c time point from day 180, so not evaluable (null)
        assert con.sql("SELECT count(*) FROM endpoints.primary_endpoint WHERE primary_met "
                       "IS NOT NULL").fetchall()[0][0] == 0


def test_bad_rows_are_quarantined_with_file_row_and_rule(small_trial):
    _, wh, first, _, _ = small_trial
    assert first["rows_quarantined"]["lab_results"] == 1
    assert first["rows_quarantined"]["cgm_readings"] == 1
    with duckdb.connect(str(wh), read_only=True) as con:
        q = con.sql("SELECT site_id, file, rule, value FROM quality.site_queries "
                    "WHERE severity = 'error' ORDER BY site_id").fetchall()
        lab_rows = con.sql("SELECT count(*) FROM core.lab_results WHERE value = 40 "
                           "AND analyte = 'HBA1C'").fetchall()[0][0]
        moved = con.sql("SELECT table_name FROM quality.quarantined_rows ORDER BY 1").fetchall()
        # the HbA1c of 40 % is on the last line of the US01 lab file
        n_lines = len((wh.parent / "landing/US01/lab/central_lab_results.csv")
                      .read_text().splitlines())
        row = con.sql("SELECT i.source_row FROM quality.issues i WHERE i.table_name = "
                      "'lab_results'").fetchall()
    assert q == [("DE01", "DE01/cgm/DE01-001__clarity_export.csv",
                  "unreadable_glucose", "abc"),
                 ("US01", "US01/lab/central_lab_results.csv",
                  "gx:expect_column_values_to_be_between", "40.0")]
    assert lab_rows == 0
    assert moved == [("cgm_readings",), ("lab_results",)]
    assert row == [(n_lines,)]
    # the site's query listing was written next to the warehouse
    listing = (wh.parent / "quality/US01_queries.csv").read_text()
    assert "central_lab_results.csv" in listing


def test_rerun_on_the_same_files_changes_no_table(small_trial):
    _, wh, first, second, digest = small_trial
    assert content_digests(wh) == digest
    assert second["files_cached"] == second["files"] == first["files"]


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

    _, wh, _, _, _ = small_trial
    runner = CliRunner()
    ok = runner.invoke(app, ["query", "SELECT count(*) AS n FROM core.participants",
                             "--warehouse", str(wh)])
    assert ok.exit_code == 0, ok.output
    assert re.search(r"│\s*4\s*│", ok.output), ok.output
    bad = runner.invoke(app, ["query", "DELETE FROM core.participants", "--warehouse", str(wh)])
    assert bad.exit_code != 0
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM core.participants").fetchall()[0][0] == 4
    summary = runner.invoke(app, ["summary", "--warehouse", str(wh)])
    assert summary.exit_code == 0 and "Trial totals" in summary.output
