"""The command line: help on every command, clear errors, demo data."""

from __future__ import annotations

from typer.testing import CliRunner

from isletflow.cli import app

runner = CliRunner()


def test_every_command_has_help():
    for cmd in ("demo-data", "run", "query", "summary", "queries", "inspect", "cgm-metrics",
                "cut", "report", "serve"):
        r = runner.invoke(app, [cmd, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, cmd


def test_missing_warehouse_is_a_clear_error(tmp_path):
    r = runner.invoke(app, ["query", "SELECT 1", "--warehouse", str(tmp_path / "none.duckdb")])
    assert r.exit_code == 2
    assert "no warehouse at" in r.output and "isletflow run" in r.output


def test_a_bad_query_is_a_one_line_error_not_a_traceback(tmp_path):
    import duckdb

    wh = tmp_path / "w.duckdb"
    duckdb.connect(str(wh)).close()
    r = runner.invoke(app, ["query", "SELECT window, 1", "--warehouse", str(wh)])
    assert r.exit_code == 1
    assert "ParserException" in r.output and "Traceback" not in r.output


def test_run_without_landing_folder_says_how_to_make_one(tmp_path):
    r = runner.invoke(app, ["run", "--landing", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "isletflow demo-data" in r.output


def test_demo_data_writes_the_landing_folder(tmp_path):
    r = runner.invoke(app, ["demo-data", "--out", str(tmp_path), "--participants", "2",
                            "--days", "3"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "US01/cgm/US01-001__clarity_export_1.csv").exists()
    assert "2 participants" in r.output


def test_inspect_shows_format_dropped_personal_columns_and_writes_canonical_rows(tmp_path):
    import polars as pl

    from isletflow.demo import generate_trial

    generate_trial(tmp_path / "landing", seed=3, participants=4, days=20, faults=False)
    export = tmp_path / "landing/DE01/cgm/DE01-001__clarity_export_1.csv"
    out = tmp_path / "rows.parquet"
    r = runner.invoke(app, ["inspect", str(export), "--to", str(out)])
    assert r.exit_code == 0, r.output
    assert "dexcom_clarity" in r.output and "Patienteninfo" in r.output
    rows = pl.read_parquet(out)
    assert set(rows["participant_id"]) == {"DE01-001"} and set(rows["site_id"]) == {"DE01"}
    assert rows["glucose_mg_dl"].null_count() == 0
    # a CGM export outside the landing layout needs its site for the time zone
    lone = tmp_path / "DE01-001__x.csv"
    lone.write_bytes(export.read_bytes())
    r = runner.invoke(app, ["inspect", str(lone)])
    assert r.exit_code == 1 and "--site" in r.output


def test_cgm_metrics_columns_in_the_contract_order(tmp_path):
    from isletflow.config import PROJECT_ROOT

    out = tmp_path / "m.csv"
    ref = PROJECT_ROOT.parent / "shared/reference/iglu_example_data_5_subject.csv"
    r = runner.invoke(app, ["cgm-metrics", str(ref), "--out", str(out)])
    assert r.exit_code == 0, r.output
    lines = out.read_text().splitlines()
    assert lines[0] == ("participant_id,n_readings,cgm_active_pct,mean_glucose_mg_dl,"
                        "sd_glucose_mg_dl,cv_pct,gmi_pct,tir_pct,tir_tight_pct,tbr70_pct,"
                        "tbr54_pct,tar180_pct,tar250_pct,sufficient")
    assert [line.split(",")[0] for line in lines[1:]] == [f"Subject {i}" for i in range(1, 6)]
