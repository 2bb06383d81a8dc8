"""The trial as data: trials/<name>.toml checked by isletflow/trial.py, every mistake at once
with its path, and the trial file registered with lineage in the warehouse."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from isletflow.cli import app
from isletflow.config import PROJECT_ROOT, PipelineConfig
from isletflow.trial import TrialError, check_trial, load_trial

TRIALS = PROJECT_ROOT / "trials"
SAMPLE = TRIALS / "islet-101.toml"


def planted(tmp_path: Path, edits: list[tuple[str, str]], extra: str = "") -> Path:
    """A copy of the sample trial (with its dictionary) with ``edits`` (old, new) applied."""
    text = SAMPLE.read_text()
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    shutil.copy(TRIALS / "islet-101.redcap-dictionary.csv", tmp_path)
    out = tmp_path / "bad.toml"
    out.write_text(text + extra)
    return out


def test_every_trial_file_in_trials_is_valid():
    files = sorted(TRIALS.glob("*.toml"))
    assert SAMPLE in files
    for f in files:
        assert check_trial(f) == [], f


def test_the_sample_trial_file_holds_the_sample_trial():
    t = load_trial(SAMPLE)
    assert t.site_ids == ["CA01", "DE01", "GB01", "US01"]
    assert t.sites_by_id["GB01"].timezone == "Europe/London"
    assert [a.id for a in t.arms] == ["half", "full"] and t.efficacy_arms == ["full"]
    assert t.lab_visit_days["day_365"] == 365 and t.lab_visit_days["screening"] == -21
    assert [(w.name, w.days) for w in t.cgm_windows][0] == ("baseline", (-28, -1))
    assert t.redcap.forms["infusions"].form == "infusion"
    assert t.sha256 == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()


def test_five_planted_mistakes_are_all_listed_with_their_paths(tmp_path):
    bad = planted(tmp_path, [
        ('timezone = "Europe/Berlin"', 'timezone = "Europe/Berlinn"'),          # sites[2]
        ("window = [49, 63]", "window = [30, 63]"),                            # overlaps day_28
        ('form = "disposition"', 'form = "dispo"'),                            # no such form
        ("days = [338, 365]", "days = [338, 400]"),                            # past the schedule
        ('phase = "1/2"', 'phase = "1/2"\nsponsor = "x"'),                     # unknown key
    ])
    errors = check_trial(bad)
    assert errors == [
        "study.sponsor: unknown key (got 'x')",
        "sites[2].timezone: unknown time zone 'Europe/Berlinn'",
        "visits: visit windows overlap: day_28 [21, 35] and day_56 [30, 63]",
        "cgm_windows[4].days: [338, 400] reaches past the visit schedule (study days -35 to 379)",
        "redcap.forms.disposition.form: the dictionary has no form 'dispo'",
    ]
    with pytest.raises(TrialError) as err:
        load_trial(bad)
    assert err.value.errors == errors


def test_field_map_and_value_mistakes(tmp_path):
    bad = planted(tmp_path, [
        ('fields.study_part = "study_part"', 'fields.study_part = "study_prt"'),
        ('{ "1" = "F", "2" = "M" }', '{ "1" = "F", "2" = "X" }'),
        ('fields.bolus_u = "bolus_u"\n', ''),
        ('code = "ANC"', 'code = "HBA1C"'),
        ('summary_window = "day_365"', 'summary_window = "day_400"'),
        ('study_day_convention = "day0"', 'study_day_convention = "day2"'),
    ])
    errors = check_trial(bad)
    assert "redcap.forms.participants.fields.sex.choices: ['X'] not among ['F', 'M']" in errors
    assert "redcap.forms.insulin_diary.fields: bolus_u is missing" in errors
    assert "lab_tests: code given more than once: ['HBA1C']" in errors
    assert ("endpoints.summary_window: 'day_400' is not a CGM window (baseline, day_90, "
            "day_180, day_270, day_365)") in errors
    assert any(e.startswith("study.study_day_convention: Input should be 'day0' or 'day1'")
               for e in errors)
    # a field the dictionary lacks is found once the map itself is valid
    ok_map = planted(tmp_path, [('fields.study_part = "study_part"',
                                 'fields.study_part = "study_prt"')])
    assert check_trial(ok_map) == [
        "redcap.forms.infusions.fields.study_part: the dictionary has no field 'study_prt'"]


def test_not_toml_and_no_file(tmp_path):
    (tmp_path / "x.toml").write_text("[study\nid = 1")
    assert check_trial(tmp_path / "x.toml")[0].startswith("(file): not TOML")
    assert check_trial(tmp_path / "none.toml") == [
        f"(file): no such file '{tmp_path / 'none.toml'}'"]


def test_check_trial_command_exit_codes(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["check-trial", str(SAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "valid — ISLET-101: 4 sites, 2 arms, 9 visits" in ok.output
    bad = planted(tmp_path, [('timezone = "Europe/London"', 'timezone = "Europe/Londn"')])
    out = runner.invoke(app, ["check-trial", str(bad)])
    assert out.exit_code == 1
    assert "sites[3].timezone: unknown time zone 'Europe/Londn'" in out.output


def test_the_run_stops_before_building_anything_on_a_bad_trial_file(tmp_path):
    bad = planted(tmp_path, [('timezone = "Europe/London"', 'timezone = "Europe/Londn"')])
    with pytest.raises(TrialError, match=re.escape("sites[3].timezone")):
        PipelineConfig.from_params(tmp_path, tmp_path / "w.duckdb", trial=bad)
    out = CliRunner().invoke(app, ["run", "--landing", str(tmp_path), "--warehouse",
                                   str(tmp_path / "w.duckdb"), "--trial", str(bad)])
    assert out.exit_code == 1 and "sites[3].timezone" in out.output
    assert not (tmp_path / "w.duckdb").exists()


def test_sites_and_schedule_point_to_the_registered_trial_file(tmp_path):
    from nightly_steps import build_night

    (tmp_path / "landing" / "US01").mkdir(parents=True)
    build, _ = build_night(tmp_path / "landing", tmp_path)
    sha = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    with duckdb.connect(str(build), read_only=True) as con:
        files = con.sql("SELECT file_id, sha256, kind, rel_path, site_id FROM audit.files "
                        "WHERE kind = 'trial'").fetchall()
        assert files == [(sha[:16], sha, "trial", "trials/islet-101.toml", None)]
        dic = TRIALS / "islet-101.redcap-dictionary.csv"
        dsha = hashlib.sha256(dic.read_bytes()).hexdigest()
        assert con.sql("SELECT file_id, rel_path FROM audit.files WHERE kind = "
                       "'trial_dictionary'").fetchall() == [
            (dsha[:16], "trials/islet-101.redcap-dictionary.csv")]
        lineage = con.sql("SELECT DISTINCT source_file_id FROM core.sites UNION "
                          "SELECT DISTINCT source_file_id FROM core.visit_schedule").fetchall()
        assert lineage == [(sha[:16],)]
        assert con.sql("SELECT site_id, timezone FROM core.sites ORDER BY 1").fetchall()[0] == (
            "CA01", "America/Toronto")
        assert con.sql("SELECT visit, nominal_day, window_low, window_high FROM "
                       "core.visit_schedule WHERE visit = 'day_90'").fetchall() == [
            ("day_90", 90, 76, 104)]


SECOND = TRIALS / "islet-301.toml"


def planted_301(tmp_path: Path, edits: list[tuple[str, str]],
                dictionary_edits: list[tuple[str, str]] = ()) -> Path:
    """A copy of the second trial (and its dictionary) with ``edits`` applied."""
    text, dic = SECOND.read_text(), (TRIALS / "islet-301.redcap-dictionary.csv").read_text()
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    for old, new in dictionary_edits:
        assert dic.count(old) == 1, old
        dic = dic.replace(old, new)
    (tmp_path / "islet-301.redcap-dictionary.csv").write_text(dic)
    out = tmp_path / "t.toml"
    out.write_text(text)
    return out


def test_a_checkbox_code_is_matched_as_redcap_names_its_column(tmp_path):
    # REDCap writes box "2.1" as column hy_help___2_1 and "-3" as hy_help____3
    t = planted_301(tmp_path, [('true_codes = ["2", "3", "4"]', 'true_codes = ["2.1", "-3"]')],
                    [("2, Family member or friend | 3, Paramedic",
                      "2.1, Family member or friend | -3, Paramedic")])
    assert check_trial(t) == []
    codes = load_trial(t).tables("f")["trial_redcap_codes"]
    assert sorted(codes.filter(codes["column_name"] == "third_party_assistance")["code"]) == [
        "2_1", "_3"]


def test_a_checkbox_named_as_a_field_and_codes_with_spaces_are_mistakes(tmp_path):
    t = planted_301(tmp_path, [('{ checkbox = "hy_help", true_codes = ["2", "3", "4"] }',
                                '{ field = "hy_help", true_codes = ["2", "3", "4"] }')])
    assert check_trial(t) == [
        "redcap.forms.she_events.fields.third_party_assistance: 'hy_help' is a checkbox field "
        "(exported as hy_help___<code> columns): use checkbox = 'hy_help'"]
    t = planted(tmp_path, [('true_codes = ["1"] }\nfields.glucose_mg_dl',
                            'true_codes = [" 1"] }\nfields.glucose_mg_dl')])
    assert [e.split(":")[0] for e in check_trial(t)] == [
        "redcap.forms.she_events.fields.third_party_assistance.true_codes[0]"]


def test_ranges_in_order_and_a_day1_trial_has_no_day_zero(tmp_path):
    t = planted(tmp_path, [
        ("baseline_days = [-28, -1]", "baseline_days = [-1, -28]"),
        ("hba1c_from_day = 270", "hba1c_from_day = 400"),
        ("participant_id_pattern = '^[A-Z]{2}\\d{2}-\\d{3}$'",
         "participant_id_pattern = '^(?!XX)[A-Z]{2}\\d{2}-\\d{3}$'"),
    ])
    errors = check_trial(t)
    assert "endpoints.insulin_independence.baseline_days: first day -1 is after last day -28" \
        in errors
    assert "endpoints.igls: hba1c_from_day 400 is after day 365" in errors
    assert any(e.startswith("study.participant_id_pattern: not a regular expression polars")
               for e in errors)
    day1 = planted(tmp_path, [('study_day_convention = "day0"', 'study_day_convention = "day1"')])
    assert check_trial(day1) == [
        "visits[1]: study day 0 does not exist in the day1 convention (day 0, window [0, 0])"]
    day1 = planted(tmp_path, [
        ('study_day_convention = "day0"', 'study_day_convention = "day1"'),
        ('name = "infusion"\nday = 0\nwindow = [0, 0]',
         'name = "infusion"\nday = 1\nwindow = [1, 1]'),
        ("name = \"baseline\"\ndays = [-28, -1]", "name = \"baseline\"\ndays = [-7, 7]")])
    assert check_trial(day1) == [
        "cgm_windows[0].days: [-7, 7] spans study day 0, which does not exist in the day1 "
        "convention"]
