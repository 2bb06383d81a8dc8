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
    # outside the landing layout, without --site: local times kept, UTC left empty, said once
    lone = tmp_path / "DE01-001__x.csv"
    lone.write_bytes(export.read_bytes())
    out_lone = tmp_path / "lone.parquet"
    r = runner.invoke(app, ["inspect", str(lone), "--to", str(out_lone)])
    assert r.exit_code == 0, r.output
    assert r.output.count("timestamp_utc is left empty") == 1
    lone_rows = pl.read_parquet(out_lone)
    assert lone_rows["timestamp_utc"].null_count() == lone_rows.height == rows.height
    assert lone_rows["timestamp_local"].to_list() == rows["timestamp_local"].to_list()
    assert set(lone_rows["participant_id"]) == {"DE01-001"}  # from the file name


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


def _small_warehouse(tmp_path):
    import duckdb

    wh = tmp_path / "w.duckdb"
    with duckdb.connect(str(wh)) as con:
        con.execute("CREATE SCHEMA core; CREATE TABLE core.sites AS "
                    "SELECT * FROM (VALUES ('US01', 'Chicago'), ('DE01', 'Berlin')) t(site_id, city)")
    return wh


def test_query_reads_the_warehouse(tmp_path):
    wh = _small_warehouse(tmp_path)
    r = runner.invoke(app, ["query", "SELECT site_id FROM core.sites ORDER BY 1",
                            "--warehouse", str(wh)])
    assert r.exit_code == 0, r.output
    assert "DE01" in r.output and "US01" in r.output and "(2 rows)" in r.output


def test_query_refuses_files_extensions_attach_and_settings_in_one_line(tmp_path):
    wh = _small_warehouse(tmp_path)
    secret = tmp_path / "secret.csv"
    secret.write_text("name\nAino Abernathy\n")
    out = tmp_path / "x.csv"
    refused = {
        f"COPY (SELECT * FROM core.sites) TO '{out}'": "PermissionException",
        f"SELECT * FROM read_csv('{secret}')": "PermissionException",
        "SELECT * FROM read_csv('/etc/passwd')": "PermissionException",
        f"SELECT * FROM read_text('{secret}')": "PermissionException",
        f"EXPORT DATABASE '{tmp_path / 'dump'}'": "PermissionException",
        f"ATTACH '{tmp_path / 'other.duckdb'}' AS other": "PermissionException",
        "INSTALL httpfs": "PermissionException",
        "LOAD httpfs": "PermissionException",
        "SET enable_external_access = true": "InvalidInputException",
        "SET threads = 1": "InvalidInputException",
        "RESET lock_configuration": "InvalidInputException",
        "CREATE TABLE core.x AS SELECT 1": "InvalidInputException",  # read-only file
    }
    for sql, error in refused.items():
        r = runner.invoke(app, ["query", sql, "--warehouse", str(wh)])
        assert r.exit_code == 1, (sql, r.output)
        assert r.output.strip().startswith(error), (sql, r.output)
        assert len(r.output.strip().splitlines()) == 1, (sql, r.output)
        assert "Traceback" not in r.output and "Aino" not in r.output
    assert not out.exists() and not (tmp_path / "dump").exists()
    assert not (tmp_path / "other.duckdb").exists()
