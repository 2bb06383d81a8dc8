"""Canaries: every contract the night runs is shown to fail on its committed rows that break
it (isletflow/canary.py, schemas/canaries/), and a weakened check or runner is named, a
changed check without a committed row too. No Prefect server."""

from __future__ import annotations

import datetime as dt
import math
import re

import great_expectations as gx
import pandera.polars as pa
import polars as pl
import pytest

from isletflow import build as b
from isletflow import canary as C
from isletflow import quality
from isletflow.config import PROJECT_ROOT
from isletflow.trial import load_trial
from schemas import core
from schemas.gx_suites import GX_SUITES, lab_results_suite
from schemas.keys import CORE_KEYS, RecordKey

SAMPLE = "trials/islet-101.toml"


@pytest.fixture(scope="module")
def trial():
    return load_trial(PROJECT_ROOT / SAMPLE)


@pytest.fixture(scope="module")
def results(trial):
    return {r.name: r for r in C.run_canaries(trial)}


def failures(trial, name: str) -> list[str]:
    """The failure lines of one contract's canary, run as the night runs it (the rules and
    runners looked up now: a monkeypatched one is used)."""
    with pytest.raises(C.CanaryError) as err:
        C.check_canaries(trial, [name])
    return str(err.value).splitlines()


def test_the_committed_canaries_are_what_the_builder_writes_today(trial):
    """schemas/canaries/ cannot drift from the rules silently: a changed rule changes the
    files `isletflow canary --write` writes, and this test fails until they are committed.
    The files hold no value of the trial file: the second trial's are the same."""
    files = C.canary_files(trial)
    committed = {p.name: p.read_text(encoding="utf-8") for p in C.CANARY_DIR.glob("*.json")}
    assert sorted(committed) == sorted(files)
    assert [n for n in files if files[n] != committed[n]] == []
    assert C.canary_files(load_trial(PROJECT_ROOT / "trials/islet-301.toml")) == files


def test_committed_values_round_trip_exactly():
    """The next float above 500 and a time one microsecond after 03:04:05 are read back as
    they were written (JSON repr of a float64 is exact; times are ISO 8601 text)."""
    text = (C.CANARY_DIR / "fingerstick_glucose.json").read_text(encoding="utf-8")
    assert '"row": {"glucose_mg_dl": 500.00000000000006}' in text
    entries = C.load_committed()
    row = next(b["row"] for b in entries["core.fingerstick_glucose pandera"]["breaks"]
               if b["check"] == "glucose_mg_dl less_than_or_equal_to(500)")
    assert row["glucose_mg_dl"] == math.nextafter(500, math.inf)
    key = entries["core.fingerstick_glucose key"]
    assert key["columns"] == {"participant_id": "String", "timestamp_utc": "Datetime(us)",
                              "source_row": "Int64"}
    assert [C._decode(r["timestamp_utc"], C._DTYPES["Datetime(us)"]) for r in key["rows"]] == [
        dt.datetime(2024, 1, 2, 3, 4, 5), dt.datetime(2024, 1, 2, 3, 4, 5, 1),
        dt.datetime(2024, 1, 2, 3, 4, 5)]
    valid = entries["core.participants pandera"]["valid"]
    assert C._decode(valid["enrolment_date"], C._DTYPES["Date"]) == dt.date(2024, 1, 2)


def test_every_canary_fires_on_the_current_rules(results):
    assert [f for r in results.values() for f in r.failures] == []
    assert [x for r in results.values() for x in r.extra] == []
    # one canary per pandera contract (10 core tables), GX suite (2), EDC form of the sample
    # trial's dictionary (7 forms in trials/islet-101.toml [redcap.forms]) and key (10)
    kinds = [n.split()[-1] if n.startswith("core.") else n.split()[0] for n in results]
    assert {k: kinds.count(k) for k in set(kinds)} == {"pandera": 10, "gx": 2, "edc": 7,
                                                       "key": 10}


def test_canary_rows_follow_the_rules(results):
    """Counted by hand from schemas/core.py, schemas/gx_suites.py and the trial file."""
    # CgmReading: 11 of its 13 columns are not nullable (interval_min and censored are): 11
    # rows; checks: source_file_id str_length(16, 16) (2 rows: too short, too long),
    # source_row >= 2, record_status, device, interval_min, censored, unit_original isin,
    # and the trial's participant_id pattern and site_id isin: 10 rows; + 1 valid row
    cgm = results["core.cgm_readings pandera"]
    assert cgm.rows == 11 + 10 + 1
    # committed: all but the trial's two checks (participant_id pattern, site_id isin)
    assert cgm.committed == cgm.rows - 2
    # frame-wide: each of the 13 columns' dtype and presence, and strict (no other column)
    assert cgm.whole == 13 + 13 + 1
    # FingerstickGlucose: 10 columns (3 of lineage + 7), none nullable: 10; str_length 2,
    # source_row 1, record_status 1, glucose ge(20) 1, le(500) 1, unit_original 1,
    # participant_id 1, site_id 1: 9; + valid
    assert results["core.fingerstick_glucose pandera"].rows == 10 + 9 + 1
    # GX cgm_readings: glucose 40-400 (below, above) + 2 not-null + valid
    assert results["gx suite cgm_readings"].rows == 2 + 2 + 1
    # GX lab_results: 4 analyte ranges x (below, above) + collection_date not null + valid
    assert results["gx suite lab_results"].rows == 4 * 2 + 1 + 1
    # key: two rows with one key, one with another
    assert results["core.lab_results key"].rows == 3


def test_each_edc_expectation_has_a_canary_row(trial):
    """Every expectation of every EDC suite of the sample trial is broken by a row of its own
    (a range with both bounds by two)."""
    from isletflow.readers.redcap_dictionary import RedcapDictionary
    from isletflow.trial import dictionary_path
    from schemas.redcap_suites import suites_from_dictionary

    dic = RedcapDictionary.from_file(dictionary_path(trial))
    suites = suites_from_dictionary(dic, forms=list(trial.redcap_fields))
    canaries = {c.name: c for c in C.trial_canaries(trial) if c.name.startswith("edc ")}
    for form, suite in suites.items():
        c = canaries[f"edc suite redcap_{form}"]
        sides = sum(2 if e.expectation_type == "expect_column_values_to_be_between"
                    and e.configuration.kwargs.get("min_value") is not None
                    and e.configuration.kwargs.get("max_value") is not None else 1
                    for e in suite.expectations)
        assert len(c.rows) == sides + 1, form


MISSING = "has no committed canary row; run `isletflow canary --write` and review the diff"


def test_a_loosened_pandera_check_fails_twice(trial, monkeypatch):
    """FingerstickGlucose.glucose_mg_dl le=500 loosened to le=5000 in the model the night's
    contracts are made from: the committed row just above 500 (the next float after 500)
    passes, and the new check has no committed row."""
    class FingerstickGlucose(core.FingerstickGlucose):
        glucose_mg_dl: pl.Float64 = pa.Field(ge=20, le=5000)
    monkeypatch.setitem(core.CORE_MODELS, "fingerstick_glucose", FingerstickGlucose)
    assert failures(trial, "core.fingerstick_glucose pandera") == [
        "canary: core.fingerstick_glucose pandera check 'glucose_mg_dl "
        "less_than_or_equal_to(500)' passed a row that breaks it (glucose_mg_dl = "
        f"{math.nextafter(500, math.inf)})",
        "canary: core.fingerstick_glucose pandera check 'glucose_mg_dl "
        f"less_than_or_equal_to(5000)' {MISSING}"]


def test_a_removed_pandera_check_is_named(trial, monkeypatch):
    real = b.core_contracts

    def weakened(t):
        out = real(t)
        out["cgm_readings"] = out["cgm_readings"].update_column("device", checks=[])
        return out
    monkeypatch.setattr(b, "core_contracts", weakened)
    assert failures(trial, "core.cgm_readings pandera") == [
        "canary: core.cgm_readings pandera check 'device isin(['dexcom', 'libre_historic', "
        "'libre_scan'])' passed a row that breaks it (device = 'excom')"]


def test_a_widened_gx_range_fails_twice(trial, monkeypatch):
    """HbA1c 3-20 % widened to 3-25 % in the suite the night runs: the committed row just
    above 20 passes (the one just below 3 still fires), and the new range has no row."""
    def widened():
        suite = lab_results_suite()
        for e in suite.expectations:
            if (e.meta or {}).get("analyte") == "hba1c":
                e.max_value = 25.0
        return suite
    monkeypatch.setattr(b, "GX_SUITES", {**GX_SUITES, "lab_results": widened})
    assert failures(trial, "gx suite lab_results") == [
        "canary: gx suite lab_results expectation 'value between 3.0 and 20.0 where analyte "
        f"== hba1c' passed a row that breaks it (analyte = 'hba1c', value = "
        f"{math.nextafter(20.0, math.inf)})",
        "canary: gx suite lab_results expectation 'value between 3.0 and 25.0 where analyte "
        f"== hba1c' {MISSING}"]


def test_a_removed_gx_expectation_is_named(trial, monkeypatch):
    def without_time():
        suite = gx.ExpectationSuite(name="cgm_readings")
        for e in GX_SUITES["cgm_readings"]().expectations:
            if e.column != "timestamp_utc":
                suite.add_expectation(e)
        return suite
    monkeypatch.setattr(b, "GX_SUITES", {**GX_SUITES, "cgm_readings": without_time})
    assert failures(trial, "gx suite cgm_readings") == [
        "canary: gx suite cgm_readings expectation 'timestamp_utc not null' passed a row "
        "that breaks it (timestamp_utc = None)"]


def test_a_changed_key_and_a_key_runner_that_finds_nothing(trial, monkeypatch):
    """A column added to lab_results' key (fewer records share one) has no committed row,
    and the committed key is no longer declared; a uniqueness check that reports nothing
    passes the two committed rows with one key."""
    key = CORE_KEYS["lab_results"]
    wider = RecordKey((*key.columns, "value_original"), key.not_compared)
    monkeypatch.setattr(b, "CORE_KEYS", {**CORE_KEYS, "lab_results": wider})
    old = "key (participant_id, visit, collection_date, test_code, accession_key) unique"
    assert failures(trial, "core.lab_results key") == [
        "canary: core.lab_results key schema 'key (participant_id, visit, collection_date, "
        f"test_code, accession_key, value_original) unique' {MISSING}",
        f"canary: core.lab_results key schema '{old}' has a committed canary row but is no "
        "longer declared; run `isletflow canary --write` and review the diff"]
    monkeypatch.setattr(b, "CORE_KEYS", CORE_KEYS)
    monkeypatch.setattr(quality, "key_violations", lambda current, key, table: current.clear())
    assert failures(trial, "core.disposition key") == [
        "canary: core.disposition key schema 'key (participant_id) unique' passed rows that "
        "break it (participant_id = 'canary' twice)"]


def test_a_contract_without_committed_canaries_fails(trial, tmp_path):
    for p in C.CANARY_DIR.glob("*.json"):
        if p.name != "disposition.json":
            (tmp_path / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(C.CanaryError) as err:
        C.check_canaries(trial, ["core.disposition pandera", "core.infusions pandera"],
                         tmp_path)
    assert str(err.value).splitlines() == [
        "canary: core.disposition pandera has no committed canaries (disposition.json); run "
        "`isletflow canary --write` and review the diff"]


def test_a_runner_that_checks_only_the_schema_is_caught(trial, monkeypatch):
    """The known trap: pandera on a polars LazyFrame checks the schema only, no row."""
    real = b.pandera_issues

    def schema_only(df, model, table):
        return real(df.lazy(), model, table)  # no row check runs; dtypes, columns are checked
    monkeypatch.setattr(b, "pandera_issues", schema_only)
    lines = failures(trial, "core.disposition pandera")
    assert lines[0] == ("canary: core.disposition pandera check 'source_file_id not_nullable' "
                        "passed a row that breaks it (source_file_id = None)")
    # Disposition: 7 columns, 5 not nullable (status_date, death_cause are) + 6 checks
    # (str_length 2 sides, source_row, record_status, status, participant_id pattern): 11
    # rows, none reported; the frame-wide rules (dtypes, columns, strict) still fire
    assert lines == [x for x in lines if "passed a row" in x]
    assert len(lines) == 5 + 6


def test_an_edc_runner_that_drops_range_issues_is_caught(trial, monkeypatch):
    real = b.edc_issues

    def no_ranges(*args, **kw):
        out = real(*args, **kw)
        return out.filter(pl.col("rule") != "redcap_out_of_range")
    monkeypatch.setattr(b, "edc_issues", no_ranges)
    lines = failures(trial, "edc suite redcap_insulin_diary")
    assert lines and all("between" in x for x in lines)


def test_the_valid_row_failing_is_named(trial, monkeypatch):
    """A check tightened so that it fails the valid canary row: named, its committed row is
    flagged by the new check instead, and the new check has no committed row."""
    real = b.core_contracts

    def tightened(t):
        out = real(t)
        out["disposition"] = out["disposition"].update_column(
            "status", checks=[pa.Check.isin(["withdrew"])])
        return out
    monkeypatch.setattr(b, "core_contracts", tightened)
    lines = failures(trial, "core.disposition pandera")
    assert lines[0] == ("canary: core.disposition pandera failed its valid canary row: "
                        "status pandera:isin(['withdrew'])")
    assert lines[1:] == [
        "canary: core.disposition pandera check 'status isin(['completed', 'ongoing', 'died', "
        "'withdrew'])' did not flag the row that breaks it (status = 'ompleted'), flagged by "
        "status pandera:isin(['withdrew']) instead",
        f"canary: core.disposition pandera check 'status isin(['withdrew'])' {MISSING}"]


def _schema(**checks) -> pa.DataFrameSchema:
    return pa.DataFrameSchema({
        "source_file_id": pa.Column(str), "source_row": pa.Column(pl.Int64),
        "x": pa.Column(pl.Int64, checks=list(checks.values()))}, name="T", strict=True)


def test_a_rule_the_builder_does_not_know_is_a_clear_error(monkeypatch):
    custom = pa.Check(lambda data: data.lazyframe.select(pl.col(data.key) % 2 == 0),
                      name="even")
    with pytest.raises(C.CanaryBuildError,
                       match="core.t pandera: the canary builder does not know the pandera "
                             "check 'even' of column x"):
        C.pandera_canary("t", _schema(even=custom))
    # with a hand-written value it gets a canary, and the canary fires
    monkeypatch.setitem(C.HAND_WRITTEN, "even", (4, 3))
    canary = C.pandera_canary("t", _schema(even=custom))
    assert C.run_canary(canary).failures == []
    assert [r.shown for r in canary.rows if r.rule and r.rule.label.startswith("x even")] == [
        "x = 3"]


def test_gx_rules_the_builder_does_not_know_are_clear_errors():
    quality._gx_batch_definition()  # (a suite needs a GX context)
    dtypes = {"x": pl.Int64}
    unique = gx.ExpectationSuite(name="s", expectations=[
        gx.expectations.ExpectColumnValuesToBeUnique(column="x")])
    with pytest.raises(C.CanaryBuildError, match="does not know the expectation "
                                                 "expect_column_values_to_be_unique"):
        C.gx_rules(unique, dtypes, "gx suite s")
    mostly = gx.ExpectationSuite(name="s", expectations=[
        gx.expectations.ExpectColumnValuesToNotBeNull(column="x", mostly=0.9)])
    with pytest.raises(C.CanaryBuildError, match="does not know mostly=0.9"):
        C.gx_rules(mostly, dtypes, "gx suite s")


@pytest.mark.parametrize("pattern", [r"^[A-Z]{2}\d{2}-\d{3}$", r"^[A-Z]{3}\d-\d{4}$",
                                     r"^[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?$",
                                     r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"])
def test_regex_example_matches(pattern):
    assert re.search(pattern, C.regex_example(pattern))


def test_regex_example_refuses_what_it_cannot_build():
    with pytest.raises(C.CanaryBuildError, match="cannot make a value matching"):
        C.regex_example(r"^(?=a)a$")


def test_the_night_runs_the_canaries_before_reading_any_file(monkeypatch):
    """flows/nightly.py: the canary step comes first, and its failure stops the night."""
    from flows import nightly

    def weakened(trial):
        raise C.CanaryError("canary: core.x pandera check 'y' passed a row that breaks it")

    def never(*a, **kw):
        raise AssertionError("files discovered before the canaries ran")
    monkeypatch.setattr(nightly, "check_contracts", weakened)
    monkeypatch.setattr(nightly, "discover_files", never)
    with pytest.raises(C.CanaryError, match="^canary: core.x"):
        nightly._night(type("Cfg", (), {"trial": None})(), None)
