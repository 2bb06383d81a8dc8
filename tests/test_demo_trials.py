"""The sample-data generator takes the trial file (isletflow/demo/, trials/*.toml).

* ISLET-101 (trials/islet-101.toml) is written exactly as before the generator read the trial
  file: the digests below are of the files the generator of commit 09a79d7 wrote (before
  this change), recorded with ``tree_digest``.
* ISLET-301 (trials/islet-301.toml) has its own sites and clocks, REDCap project, lab codes
  and schedule; every expected count here follows from the trial file and the plan
  (isletflow/demo/plans.py, profiles.py), worked out by hand in the comments.
* The planted truth (isletflow/demo/truth.py) is what the pipeline derives (build_night).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from isletflow.cli import app
from isletflow.demo import generate_trial
from isletflow.demo.profiles import PROFILES_301
from isletflow.landing import scan_landing
from isletflow.trial import load_trial
from nightly_steps import build_night

ROOT = Path(__file__).resolve().parent.parent
TRIAL_301 = ROOT / "trials" / "islet-301.toml"


def tree_digest(root: Path) -> str:
    """sha256 over "<relative path> <sha256 of the file> <mtime, whole seconds>" lines of
    every file under ``root``, in path order: the files, their contents and their times."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(f"{p.relative_to(root).as_posix()} {hashlib.sha256(p.read_bytes()).hexdigest()}"
                     f" {int(p.stat().st_mtime)}\n".encode())
    return h.hexdigest()


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


# ---- ISLET-101: unchanged --------------------------------------------------------------------

def test_islet_101_small_is_written_byte_for_byte_as_before(tmp_path):
    m = generate_trial(tmp_path, participants=4, days=120)
    assert m.study_id == "ISLET-101" and len(m.files) == 153
    assert tree_digest(tmp_path) == \
        "fa44bfcf9eacfe70f27505e2b1a09e6e2cfa64623b36bced14e4326550d1a89a"


def test_islet_101_default_is_written_byte_for_byte_as_before(tmp_path):
    """The whole sample trial (535 files: the module docstring's "weekly, the default"), its
    planted faults and its truth: the published headline (SEED-trial-news.txt)."""
    m = generate_trial(tmp_path / "landing")
    assert (len(m.files), len(m.planted_faults)) == (535, 17)
    # the missing data planted for the missing-data queries (isletflow/demo/missing.py; issue
    # 13) changed 57 of the 535 files (CA01-001's second Clarity export and CA01's 54 insulin-
    # diary exports, US01's 2 adverse-event exports holding US01-003's incomplete form) and no
    # other byte; before them this was fe2ab538b54c84f148da2a5d18c1d63909100ca22b05ed3d0a663aaa980a1dc9
    assert tree_digest(tmp_path / "landing") == \
        "9adc41063da46c9583675a917bcd558b6dc6dd4bb3a0c37c0c8b7ec2f69c211d"
    full = [p for p in m.truth["participants"] if p["dose_group"] == "full"]
    assert len(full) == 12
    assert all(p["primary_met"] and p["she_free"] for p in full)
    assert sum(p["insulin_independent"] for p in full) == 10
    assert {p["participant_id"] for p in m.truth["participants"] if p["serious_neutropenia"]} \
        == {"US01-002", "DE01-001", "GB01-003"}
    assert {p["participant_id"]: p["death_day"] for p in m.truth["participants"]
            if p["died"]} == {"US01-001": 241, "CA01-001": 301}


# ---- ISLET-301: its own shape ----------------------------------------------------------------

@pytest.fixture(scope="module")
def t301(tmp_path_factory):
    root = tmp_path_factory.mktemp("islet301")
    return generate_trial(root / "landing", trial=TRIAL_301,
                          truth_path=root / "planted-islet-301.json")


def test_islet_301_check_trial_is_clean():
    from isletflow.trial import check_trial

    assert check_trial(TRIAL_301) == []


def test_islet_301_sites_and_cgm_files(t301):
    root = t301.out_dir
    trial = load_trial(TRIAL_301)
    assert sorted(p.name for p in root.iterdir()) == trial.site_ids
    assert all({d.name for d in (root / s).iterdir()} == {"cgm", "edc", "lab"}
               for s in trial.site_ids)
    cgm = sorted(p.name for p in root.glob("*/cgm/*"))
    # 5 CGM windows, one export each, none after follow-up ends: 46 participants x 5, and
    # TYO1-1001 (died day 412: baseline, month_6, month_12), PAR1-1002 (died day 300: 2),
    # NYC1-1003 (died day 610: 4), YYT1-1002 (withdrew day 200: 2)
    assert len(cgm) == 46 * 5 + 3 + 2 + 4 + 2 == 241
    assert [n for n in cgm if n.startswith("TYO1-1001__")] == [
        "TYO1-1001__libreview_baseline.csv", "TYO1-1001__libreview_month_12.csv",
        "TYO1-1001__libreview_month_6.csv"]
    # Dexcom Clarity at SYD1, JNB1, MAD1, YYT1, PHX1 except the two who wear a Libre
    clarity = {n.split("__")[0] for n in cgm if "__clarity_" in n}
    assert {p.split("-")[0] for p in clarity} == {"SYD1", "JNB1", "MAD1", "YYT1", "PHX1"}
    assert not clarity & {"SYD1-1002", "YYT1-1003"}
    files, problems = scan_landing(root, set(trial.site_ids))
    assert problems == [] and len(files) == len(t301.files)


def test_islet_301_libreview_layouts(t301):
    """New York: US timestamps (12-hour clock) in mg/dL; Tokyo: year-first; Paris: French."""
    root = t301.out_dir
    ny = (root / "NYC1/cgm/NYC1-1001__libreview_baseline.csv").read_text().splitlines()
    assert ny[1].split(",")[4] == "Historic Glucose mg/dL"
    assert re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:\d\d [AP]M", ny[2].split(",")[2])
    tokyo = (root / "TYO1/cgm/TYO1-1001__libreview_baseline.csv").read_text().splitlines()
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d", tokyo[2].split(",")[2])
    paris = (root / "PAR1/cgm/PAR1-1001__libreview_baseline.csv").read_text().splitlines()
    assert paris[1].startswith("Appareil,Numéro de série,Horodatage de l'appareil")


def _egv(path: Path) -> list[tuple[str, int]]:
    """(local timestamp, transmitter time) of a Clarity export's EGV rows."""
    return [(r[1], int(r[12])) for r in csv.reader(io.StringIO(path.read_text("utf-8-sig")))
            if len(r) > 12 and r[2] == "EGV"]


def test_islet_301_readings_cross_the_clock_changes_of_sydney_and_st_johns(t301):
    """Infusions are 4 days apart from 8 May 2023 in profile order (plans.PLAN_301).

    SYD1-1005 (the 45th, infused 2023-05-08 + 176 days = 2023-10-31): the month-6 window
    (days 153-180: 2024-04-01 to 04-28) holds 7 April 2024, when Sydney's clocks went back
    from 03:00 AEDT to 02:00 AEST, so 02:00-02:59 happened twice: the same local times with
    transmitter times one hour (3600 s) apart. Its month-12 window (days 338-365: 2024-10-03
    to 10-30) holds 6 October 2024, when 02:00 AEST jumped to 03:00 AEDT: no 02:xx reading.
    YYT1-1001 (the 2nd, 2023-05-12): month 6 (2023-10-12 to 11-08) holds 5 November 2023,
    02:00 NDT -> 01:00 NST, so 01:00-01:59 twice; YYT1-1004 (the 35th, 2023-09-21): month 6
    (2024-02-21 to 03-19) holds 10 March 2024, 02:00 NST -> 03:00 NDT, no 02:xx reading."""
    cgm = t301.out_dir

    def repeated(path: Path, hour: str) -> list[int]:
        seen: dict[str, list[int]] = {}
        for ts, tt in _egv(path):
            if ts.startswith(hour):
                seen.setdefault(ts, []).append(tt)
        return [b - a for a, b in (sorted(v) for v in seen.values() if len(v) == 2)]

    for path, hour in ((cgm / "SYD1/cgm/SYD1-1005__clarity_month_6.csv", "2024-04-07T02:"),
                       (cgm / "YYT1/cgm/YYT1-1001__clarity_month_6.csv", "2023-11-05T01:")):
        gaps = repeated(path, hour)
        assert gaps and set(gaps) == {3600}, path
    for path, day in ((cgm / "SYD1/cgm/SYD1-1005__clarity_month_12.csv", "2024-10-06T"),
                      (cgm / "YYT1/cgm/YYT1-1004__clarity_month_6.csv", "2024-03-10T")):
        hours = {ts[11:13] for ts, _ in _egv(path) if ts.startswith(day)}
        assert "02" not in hours and {"01", "03"} <= hours, path


FORMS_301 = ["demographics", "study_treatment", "hypo_events", "insulin_log", "ae", "con_meds",
             "end_of_study"]


def test_islet_301_redcap_exports_use_the_trials_project(t301):
    root = t301.out_dir
    trial = load_trial(TRIAL_301)
    events = {v.redcap_event for v in trial.visits}
    whole = {p.parts[-3] for p in root.glob("*/edc/ISLET301_DATA_*.csv")}
    assert whole == {"SYD1", "TYO1", "PAR1", "SAO1"}
    # one-form exports at the other sites, named as REDCap names a report download
    for site in set(trial.site_ids) - whole:
        forms = {re.fullmatch(r"ISLET301-(\w+)_DATA_\d{4}-\d\d-\d\d_0600\.csv", p.name)[1]
                 for p in (root / site / "edc").iterdir()}
        assert forms == set(FORMS_301), site
    # the dictionary: only SYD1 sends it, before and after the AE form gained aeacn
    dictionaries = sorted((root / "SYD1/edc").glob("ISLET301_DataDictionary_*.csv"))
    assert [("aeacn," in p.read_text()) for p in dictionaries] == [False, True]
    assert not [p for p in root.glob("*/edc/*DataDictionary*") if p.parts[-3] != "SYD1"]
    assert dictionaries[-1].read_bytes() == (ROOT / "trials/islet-301.redcap-dictionary.csv"
                                             ).read_bytes()
    hypo = sorted((root / "NYC1/edc").glob("ISLET301-hypo_events_*.csv"))[-1]
    assert hypo.read_text().splitlines()[0].split(",") == [
        "subject_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
        "hy_date", "hy_help___1", "hy_help___2", "hy_help___3", "hy_help___4", "hy_bg",
        "hypo_events_complete"]
    ae = rows(sorted((root / "YYT1/edc").glob("ISLET301-ae_*.csv"))[-1])
    assert {r["aeser"] for r in ae} == {"Y", "N"}
    assert {r["aeout"] for r in ae} <= {"REC", "RECING", "NOTREC", "FATAL"}
    eos = rows(sorted((root / "YYT1/edc").glob("ISLET301-end_of_study_*.csv"))[-1])
    # YYT1-1002 withdrew on day 200; the other four completed month 24
    assert {r["subject_id"]: r["eos_status"] for r in eos} == {
        "YYT1-1001": "1", "YYT1-1002": "2", "YYT1-1003": "1", "YYT1-1004": "1",
        "YYT1-1005": "1"}
    diary = rows(sorted((root / "PHX1/edc").glob("ISLET301-insulin_log_*.csv"))[-1])
    # a diary day is filed under the event of the visit that collects it (the first whose
    # window ends on or after it): the baseline days under screening (window ends day -14)
    # and the infusion visit (day 0), then every follow-up visit: all 9 events of the trial
    assert {r["redcap_event_name"] for r in diary} == events
    project = rows(sorted((root / "SYD1/edc").glob("ISLET301_DATA_*.csv"))[-1])
    assert {r["redcap_data_access_group"] for r in project} == {"site_sydney"}
    assert all(r["brthdat"] for r in project if r["demographics_complete"])


def test_islet_301_she_assistance_checkbox(t301):
    """NYC1-1001 (the 4th, infused 2023-05-20) had an event on day 300 (2024-03-15) that
    needed no one's help: only box 1 (self-treated). Every other event after infusion, and
    the history, had help: one of boxes 2-4."""
    exports = [rows(sorted((t301.out_dir / s / "edc").glob("ISLET301-hypo_events_*.csv"))[-1])
               for s in ("NYC1", "YYT1", "JNB1")]
    events = [r for e in exports for r in e]
    boxes = {(r["subject_id"], r["hy_date"]): {b for b in "1234" if r[f"hy_help___{b}"] == "1"}
             for r in events}
    assert boxes[("NYC1-1001", "2024-03-15")] == {"1"}
    assert all(b & {"2", "3", "4"} for k, b in boxes.items() if k != ("NYC1-1001", "2024-03-15"))
    assert len(events) > 20


def test_islet_301_lab_files_use_the_vendors_codes(t301):
    trial = load_trial(TRIAL_301)
    last = [sorted((t301.out_dir / s / "lab").glob("ISL301_*_RESULTS_*.csv"))[-1]
            for s in trial.site_ids]
    results = [r for p in last for r in rows(p)]
    assert {(r["test_code"], r["unit"]) for r in results} == {
        ("A1C-IFCC", "mmol/mol"), ("CPEP-F", "nmol/L"), ("CPEP-MMTT90", "nmol/L"),
        ("ANC-ABS", "10^9/L")}
    assert {r["visit"] for r in results} == {"SCR", "W4", "M3", "M6", "M9", "M12", "M18",
                                            "M24"}
    assert all(re.fullmatch(r"\d+", r["result"]) for r in results
               if r["test_code"] == "A1C-IFCC")  # IFCC mmol/mol, whole numbers
    assert list(results[0]) == ["subject_id", "visit", "collection_date", "test_code",
                                "test_name", "result", "unit", "accession_number",
                                "reference_range", "abnormal_flag"]
    # HbA1c at SCR, M3, M6, M9, M12, M18, M24: 7 visits x 50 participants, less what death,
    # withdrawal and missed visits took: TYO1-1001 (died day 412: M18, M24), PAR1-1002
    # (died 300: M12-M24), NYC1-1003 (died 610: M24), YYT1-1002 (withdrew 200: M9-M24),
    # CCU1-1002 (missed M12), AKL1-1004 (missed M24)
    assert sum(r["test_code"] == "A1C-IFCC" for r in results) == 350 - 2 - 3 - 1 - 4 - 1 - 1


def test_islet_301_planted_truth(t301):
    """The truth file beside the landing folder (never in it), and what profiles.py plants."""
    path = t301.out_dir.parent / "planted-islet-301.json"
    assert t301.truth_path == path
    truth = json.loads(path.read_text())
    assert truth["study_id"] == "ISLET-301" and truth["windows"]["she_days"] == [90, 730]
    by = {p["participant_id"]: p for p in truth["participants"]}
    assert len(by) == 50
    assert sum(p["dose_group"] == "low" for p in by.values()) == 9
    assert {k for k, p in by.items() if p["died"]} == {"TYO1-1001", "PAR1-1002", "NYC1-1003"}
    assert [by[k]["death_day"] for k in ("TYO1-1001", "PAR1-1002", "NYC1-1003")] == [412, 300,
                                                                                      610]
    assert {k for k, p in by.items() if not p["she_free"]} == {"YYT1-1001", "SAO1-1002",
                                                               "SYD1-1004"}
    assert by["JNB1-1001"]["she_free"] and by["NYC1-1001"]["she_free"]  # day 45; no help
    assert {k for k, p in by.items() if p["serious_neutropenia"]} == {
        "SYD1-1001", "PHX1-1002", "SAO1-1003", "YYT1-1005"}
    # not evaluable: withdrew on day 200 / died on day 300, before the first HbA1c time point
    assert {k for k, p in by.items() if p["primary_met"] is None} == {"YYT1-1002", "PAR1-1002"}
    # not met: the 3 with an SHE in days 90-730, the 3 nonresponders, the 8 low-dose partial
    not_met = {k for k, p in by.items() if p["primary_met"] is False}
    assert not_met == {"YYT1-1001", "SAO1-1002", "SYD1-1004"} | {
        p.participant_id for p in PROFILES_301 if p.course in ("nonresponder", "partial")}
    assert len(not_met) == 3 + 3 + 8
    # off insulin over days 365-730: the target-dose "independent" course, except the two
    # with no diary day then
    independent = {p.participant_id for p in PROFILES_301
                   if p.course == "independent" and p.dose_fraction == 1.0} - {"YYT1-1002",
                                                                             "PAR1-1002"}
    assert {k for k, p in by.items() if p["insulin_independent"]} == independent
    assert all(set(p["tir_pct"]) == {"baseline", "month_6", "month_12", "month_18",
                                     "month_24"} for p in by.values())
    assert by["PAR1-1002"]["tir_pct"]["month_12"] is None  # died on day 300


def test_islet_301_cli_writes_the_truth_beside_the_landing_folder(tmp_path):
    r = CliRunner().invoke(app, ["demo-data", "--trial", str(TRIAL_301), "--out",
                                 str(tmp_path / "landing"), "--participants", "2", "--days",
                                 "40"])
    assert r.exit_code == 0, r.output
    assert "2 participants of ISLET-301" in r.output
    assert (tmp_path / "planted-islet-301.json").exists()
    assert {p.name for p in (tmp_path / "landing").iterdir()} == {"SYD1", "YYT1"}


def test_a_trial_without_a_sample_data_plan_is_refused(tmp_path):
    shutil.copy(ROOT / "trials/islet-301.redcap-dictionary.csv", tmp_path)
    (tmp_path / "other.toml").write_text(
        TRIAL_301.read_text().replace('id = "ISLET-301"', 'id = "OTHER-1"'))
    with pytest.raises(ValueError, match="no sample data plan for study 'OTHER-1'"):
        generate_trial(tmp_path / "landing", trial=tmp_path / "other.toml")


# ---- the pipeline derives what was planted ---------------------------------------------------

def derived_vs_planted(build: Path, truth: dict) -> list[tuple]:
    """Every difference between the endpoint tables of ``build`` and the planted truth: dose
    group, efficacy population, SHE-free, primary endpoint, insulin independence, serious
    neutropenia, death and its study day, and TIR per CGM window (to 0.001 points)."""
    con = duckdb.connect(str(build), read_only=True)

    def by_pid(sql: str) -> dict:
        return {r[0]: r[1:] for r in con.sql(sql).fetchall()}

    primary = by_pid("SELECT participant_id, dose_group, efficacy_population, she_free, "
                     "primary_met FROM endpoints.primary_endpoint")
    insulin = by_pid("SELECT participant_id, insulin_independent "
                     "FROM endpoints.insulin_independence")
    neutro = by_pid("SELECT participant_id, serious_neutropenia FROM endpoints.neutropenia")
    deaths = by_pid("SELECT participant_id, study_day FROM endpoints.deaths")
    tir = {(p, w): v for p, w, v in con.sql(
        'SELECT participant_id, "window", tir_pct FROM endpoints.cgm_metrics').fetchall()}
    con.close()
    out = []
    for p in truth["participants"]:
        pid = p["participant_id"]
        got = (*primary.get(pid, (None,) * 4), insulin.get(pid, (None,))[0],
               neutro.get(pid, (None,))[0], pid in deaths, deaths.get(pid, (None,))[0])
        want = (p["dose_group"], p["efficacy_population"], p["she_free"], p["primary_met"],
                p["insulin_independent"], p["serious_neutropenia"], p["died"], p["death_day"])
        if got != want:
            out.append((pid, got, want))
        for window, planted in p["tir_pct"].items():
            derived = tir.get((pid, window))
            if (planted is None) != (derived is None) or (
                    planted is not None and abs(derived - planted) > 1e-3):
                out.append((pid, window, derived, planted))
    return out


def test_islet_301_endpoints_are_what_was_planted(tmp_path):
    """Six participants (both arms, a death, an SHE in the window, an unassisted one,
    neutropenia, St John's clocks going back in a CGM window) built raw -> core ->
    endpoints without Prefect (nightly_steps.build_night)."""
    m = generate_trial(tmp_path / "landing", participants=6, trial=TRIAL_301, faults=False)
    build, moved = build_night(tmp_path / "landing", tmp_path, now=dt.datetime(2026, 6, 1),
                               trial=TRIAL_301, endpoints=True)
    assert sum(moved.values()) == 0
    assert derived_vs_planted(build, m.truth) == []
    assert {p["participant_id"] for p in m.truth["participants"]} == {
        "SYD1-1001", "YYT1-1001", "TYO1-1001", "NYC1-1001", "PHX1-1001", "PAR1-1001"}


@pytest.mark.slow
def test_islet_301_whole_trial_endpoints_are_what_was_planted(tmp_path):
    """All 50 participants, every clock of the trial (about 40 s on 2 cores)."""
    m = generate_trial(tmp_path / "landing", trial=TRIAL_301, faults=False)
    build, moved = build_night(tmp_path / "landing", tmp_path, now=dt.datetime(2026, 6, 1),
                               trial=TRIAL_301, endpoints=True)
    assert sum(moved.values()) == 0
    assert derived_vs_planted(build, m.truth) == []
