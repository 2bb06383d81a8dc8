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
        lineage = con.sql("SELECT DISTINCT source_file_id FROM core.sites UNION "
                          "SELECT DISTINCT source_file_id FROM core.visit_schedule").fetchall()
        assert lineage == [(sha[:16],)]
        assert con.sql("SELECT site_id, timezone FROM core.sites ORDER BY 1").fetchall()[0] == (
            "CA01", "America/Toronto")
        assert con.sql("SELECT visit, nominal_day, window_low, window_high FROM "
                       "core.visit_schedule WHERE visit = 'day_90'").fetchall() == [
            ("day_90", 90, 76, 104)]
