"""Hypoglycaemia events, C-peptide, Igls, safety and disposition on hand-made frames."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from isletflow.config import AnalysisWindow
from isletflow.endpoints.adverse_event_summary import adverse_event_summary
from isletflow.endpoints.c_peptide import c_peptide_by_visit
from isletflow.endpoints.cgm_hypo_event_counts import cgm_hypo_event_counts
from isletflow.endpoints.cgm_hypo_events import cgm_hypo_events
from isletflow.endpoints.deaths import deaths
from isletflow.endpoints.disposition_summary import disposition_summary
from isletflow.endpoints.prohibited_medications import prohibited_medications
from isletflow.endpoints.igls import igls_outcome
from isletflow.endpoints.insulin_at_visit import insulin_at_visit
from isletflow.endpoints.neutropenia import ctcae_neutropenia_grade, neutropenia
from isletflow.endpoints.she_listing import she_listing
from isletflow.trial import load_trial

SAMPLE = load_trial()  # the sample trial's file: the published thresholds and schedule
VISIT_DAYS = SAMPLE.lab_visit_days

DAY0 = dt.date(2024, 1, 1)
T0 = dt.datetime(2024, 1, 10, 8, 0)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def inf(*pids: str, dose: str = "full") -> pl.DataFrame:
    return pl.DataFrame({"participant_id": list(pids), "infusion_date": [DAY0] * len(pids),
                         "dose_group": [dose] * len(pids)})


def trace(values: list[float], pid: str = "A", start: dt.datetime = T0) -> pl.DataFrame:
    times = [start + dt.timedelta(minutes=5 * i) for i in range(len(values))]
    return pl.DataFrame({"participant_id": [pid] * len(values), "timestamp": times,
                         "timestamp_local": times, "glucose_mg_dl": values,
                         "interval_min": [5] * len(values)})


def test_hypo_event_needs_15_minutes_below_and_15_minutes_above_to_end():
    # 08:00-08:10 below (3 readings = 15 min: an event), 08:15 one reading above (5 min: not
    # an end), 08:20-08:25 below again (same event), 08:30-08:40 above (15 min: the end)
    ev = cgm_hypo_events(trace([65, 60, 55, 80, 50, 62, 90, 95, 100]), 70.0)
    assert ev.height == 1
    e = ev.row(0, named=True)
    assert e["start"] == T0 and e["nadir_mg_dl"] == 50.0 and e["level"] == 1
    assert e["duration_min"] == 30.0  # 08:00 to the last reading below (08:25) + 5 min


def test_hypo_runs_shorter_than_15_minutes_are_not_events():
    # two readings below (10 min), then above: no event; at 54 mg/dL only the 50 counts
    assert cgm_hypo_events(trace([65, 60, 100, 100, 100]), 70.0).height == 0
    assert cgm_hypo_events(trace([50, 60, 100, 100, 100]), 54.0).height == 0


def test_two_events_when_the_return_above_lasts_15_minutes():
    ev = cgm_hypo_events(trace([60, 60, 60, 100, 100, 100, 60, 60, 60, 100, 100, 100]), 70.0)
    assert ev["start"].to_list() == [T0, T0 + dt.timedelta(minutes=30)]
    counts = cgm_hypo_event_counts(ev, inf("A", "B"), (AnalysisWindow("d9", 9, 9),))
    assert counts.rows() == [("A", "d9", 2, 0), ("B", "d9", 0, 0)]  # 10 Jan = day 9


def test_a_data_gap_ends_the_event():
    a = trace([60, 60, 60])
    b = trace([60, 60, 60], start=T0 + dt.timedelta(hours=2))
    assert cgm_hypo_events(pl.concat([a, b]), 70.0).height == 2


def test_she_listing_periods_and_what_counts():
    ev = pl.DataFrame({"participant_id": ["A"] * 4,
                       "event_date": [day(-10), day(45), day(90), day(366)],
                       "third_party_assistance": [True, True, True, True],
                       "source_file_id": ["f"] * 4, "source_row": [2, 3, 4, 5]})
    out = she_listing(ev, inf("A"), 90, 365)
    assert out["period"].to_list() == ["pre-infusion", "day 0-89", "day 90-365",
                                       "after day 365"]
    assert out["counts_for_primary"].to_list() == [False, False, True, False]


def test_off_insulin_at_visit_uses_the_week_before_the_visit():
    diary = pl.DataFrame({"participant_id": ["A"] * 3,
                          "diary_date": [day(83), day(85), day(90)],
                          "total_daily_dose_u": [4.0, 0.0, 0.0]})
    out = insulin_at_visit(diary, inf("A"), {"day_90": 90, "day_180": 180}, 6)
    d90 = out.filter(pl.col("visit") == "day_90").row(0, named=True)
    assert (d90["n_diary_days"], d90["off_insulin"]) == (2, True)  # day 83 is 7 days before
    d180 = out.filter(pl.col("visit") == "day_180").row(0, named=True)
    assert (d180["n_diary_days"], d180["off_insulin"]) == (0, None)


def lab(rows: list[tuple[str, str, int, str, float]]) -> pl.DataFrame:
    return pl.DataFrame({"participant_id": [r[0] for r in rows], "visit": [r[1] for r in rows],
                         "collection_date": [day(r[2]) for r in rows],
                         "analyte": [r[3] for r in rows], "value": [r[4] for r in rows]})


def test_c_peptide_engraftment_is_detectable_c_peptide_after_infusion():
    fast, stim = "c_peptide_fasting", "c_peptide_stimulated"
    labs = lab([("A", "screening", -20, fast, 3.0), ("A", "screening", -20, stim, 5.0),
                ("A", "day_90", 90, fast, 9.0), ("A", "day_90", 90, stim, 10.0),
                ("B", "day_90", 91, fast, 2.0), ("B", "day_90", 91, stim, 9.9)])
    out = c_peptide_by_visit(labs, inf("A", "B"), VISIT_DAYS, lloq_pmol_l=10.0)
    got = {(r["participant_id"], r["visit"]): (r["detectable"], r["engrafted"])
           for r in out.iter_rows(named=True)}
    assert got == {("A", "screening"): (False, None), ("A", "day_90"): (True, True),
                   ("B", "day_90"): (False, False)}  # 9.9 pmol/L is below 10


def igls_inputs(hba1c: float, she_after: int, dose_now: float, cpep_now: float):
    pid = "A"
    hb = pl.DataFrame({"participant_id": [pid], "nominal_day": [365], "hba1c_pct": [hba1c]},
                      schema_overrides={"nominal_day": pl.Int32})
    she = pl.DataFrame({"participant_id": [pid] * (2 + she_after),
                        "event_date": [day(-100), day(-50)] + [day(200)] * she_after,
                        "third_party_assistance": [True] * (2 + she_after)})
    diary = pl.DataFrame({"participant_id": [pid] * 2, "diary_date": [day(-1), day(365)],
                          "total_daily_dose_u": [40.0, dose_now]})
    cp = pl.DataFrame({"participant_id": [pid] * 2, "study_day": [-20, 365],
                       "nominal_day": [-21, 365], "fasting_pmol_l": [3.0, cpep_now],
                       "stimulated_pmol_l": [None, None]},
                      schema_overrides={"stimulated_pmol_l": pl.Float64,
                                        "study_day": pl.Int32, "nominal_day": pl.Int32})
    parts = pl.DataFrame({"participant_id": [pid], "weight_kg": [80.0]})
    return igls_outcome(hb, she, diary, cp, parts, inf(pid), SAMPLE.endpoints.igls,
                        (-28, -1)).row(0, named=True)


@pytest.mark.parametrize("hba1c,she_after,dose_now,cpep_now,status", [
    (6.5, 0, 0.0, 500.0, "optimal"),    # HbA1c <= 6.5, no SHE, no insulin, C-peptide up
    (6.6, 0, 0.0, 500.0, "good"),       # HbA1c 6.6 is not <= 6.5
    (6.9, 0, 19.9, 500.0, "good"),      # 19.9 U = 49.75 % of 40 U, 0.249 U/kg/day
    (6.9, 0, 20.0, 500.0, "marginal"),  # 20 U = 50 % of baseline: not < 50 %; SHE 0 < 2
    (6.4, 1, 0.0, 500.0, "marginal"),   # one SHE in the year: not none, but < 2 at baseline
    (6.4, 2, 0.0, 500.0, "failure"),    # SHE back at baseline
    (6.4, 0, 0.0, 160.0, "failure"),    # C-peptide above baseline but not > 170 pmol/L
])
def test_igls_table(hba1c, she_after, dose_now, cpep_now, status):
    assert igls_inputs(hba1c, she_after, dose_now, cpep_now)["igls_status"] == status


@pytest.mark.parametrize("anc,grade", [(2000.0, 0), (1999.0, 1), (1500.0, 1), (1499.0, 2),
                                       (1000.0, 2), (999.0, 3), (500.0, 3), (499.0, 4)])
def test_ctcae_v5_neutropenia_grades_at_the_boundaries(anc, grade):
    out = pl.DataFrame({"anc": [anc]}).select(g=ctcae_neutropenia_grade(pl.col("anc"), 2000.0))
    assert out["g"][0] == grade


def ae_frame(rows):
    return pl.DataFrame({"participant_id": [r[0] for r in rows],
                         "preferred_term": [r[1] for r in rows],
                         "system_organ_class": [r[2] for r in rows],
                         "serious": [r[3] for r in rows], "ctcae_grade": [r[4] for r in rows],
                         "outcome": [r[5] for r in rows]})


def test_neutropenia_worst_grade_after_infusion_and_reported_seriousness():
    labs = lab([("A", "screening", -20, "anc", 400.0), ("A", "day_56", 56, "anc", 800.0),
                ("B", "day_56", 56, "anc", 2500.0)])
    ae = ae_frame([("A", "Neutropenia", "Blood and lymphatic system disorders", True, 3,
                    "recovered")])
    out = {r["participant_id"]: r
           for r in neutropenia(labs, ae, inf("A", "B"), 2000.0).iter_rows(named=True)}
    assert (out["A"]["worst_grade"], out["A"]["nadir_day"], out["A"]["serious_neutropenia"]) == (3, 56, True)
    assert (out["B"]["worst_grade"], out["B"]["serious_neutropenia"]) == (0, False)


def test_adverse_events_count_participants_once_per_term():
    ae = ae_frame([("A", "Nausea", "Gastrointestinal disorders", False, 1, "recovered"),
                   ("A", "Nausea", "Gastrointestinal disorders", False, 2, "recovered"),
                   ("B", "Diarrhoea", "Gastrointestinal disorders", True, 3, "recovered")])
    out = {r["preferred_term"]: r for r in adverse_event_summary(ae, inf("A", "B")).iter_rows(named=True)}
    assert (out["Nausea"]["n_events"], out["Nausea"]["n_participants"]) == (2, 1)
    assert out["Nausea"]["worst_grade"] == 2
    assert (out["(any)"]["n_events"], out["(any)"]["n_participants"]) == (3, 2)
    assert (out["(any)"]["n_serious_events"], out["(any)"]["n_participants_serious"]) == (1, 1)


def test_deaths_with_cause_and_fatal_event():
    dispo = pl.DataFrame({"participant_id": ["A", "B"], "status": ["died", "completed"],
                          "status_date": [day(241), day(365)],
                          "death_cause": ["Cryptococcal meningitis", None]})
    ae = ae_frame([("A", "Cryptococcal meningitis", "Infections and infestations", True, 5,
                    "fatal")])
    out = deaths(dispo, ae, inf("A", "B"))
    assert out.select("participant_id", "study_day", "cause", "fatal_ae_terms").rows() == [
        ("A", 241, "Cryptococcal meningitis", "Cryptococcal meningitis")]


def test_glucocorticoids_after_infusion_are_deviations_others_are_not():
    cm = pl.DataFrame({"participant_id": ["A", "A", "A", "B"],
                       "medication": ["Prednisone 20 mg", "Tacrolimus", "HYDROCORTISONE cream",
                                      "Prednisolone"],
                       "indication": [None] * 4,
                       "start_date": [day(196), day(-2), day(10), day(-5)],
                       "stop_date": [None] * 4, "source_file_id": ["f"] * 4,
                       "source_row": [2, 3, 4, 5]},
                      schema_overrides={"indication": pl.String, "stop_date": pl.Date})
    out = prohibited_medications(cm, inf("A", "B"), SAMPLE.safety.prohibited_medications)
    assert out.select("participant_id", "medication", "deviation").rows() == [
        ("A", "HYDROCORTISONE cream", True), ("A", "Prednisone 20 mg", True),
        ("B", "Prednisolone", False)]



def test_prohibited_names_are_matched_literally_as_whole_names():
    # a name with brackets or regex characters is text, not a pattern; "prednisone" is not
    # "prednisolone" nor part of a longer word
    cm = pl.DataFrame({"participant_id": ["A"] * 5,
                       "medication": ["Hydrocortisone (oral) 10 mg", "Hydrocortisone cream",
                                      "[test] drug", "Prednisolone", "xprednisone"],
                       "indication": [None] * 5, "start_date": [day(10)] * 5,
                       "stop_date": [None] * 5, "source_file_id": ["f"] * 5,
                       "source_row": [2, 3, 4, 5, 6]},
                      schema_overrides={"indication": pl.String, "stop_date": pl.Date})
    out = prohibited_medications(cm, inf("A"), ["hydrocortisone (oral)", "[test]", "prednisone"])
    assert sorted(out["medication"]) == ["Hydrocortisone (oral) 10 mg", "[test] drug"]


def test_disposition_by_site_region_and_total():
    parts = pl.DataFrame({"participant_id": ["A", "B", "C"], "site_id": ["US01", "US01", "DE01"]})
    infs = pl.DataFrame({"participant_id": ["A", "B", "C"], "infusion_date": [DAY0] * 3,
                         "dose_group": ["half", "full", "full"]})
    dispo = pl.DataFrame({"participant_id": ["A", "B", "C"],
                          "status": ["died", "completed", "completed"]})
    sites = pl.DataFrame({"site_id": ["US01", "DE01"], "region": ["North America", "Europe"]})
    out = disposition_summary(parts, infs, dispo, sites, ["half", "full"])
    rows = {(r["region"], r["site_id"]): r for r in out.iter_rows(named=True)}
    assert rows[("North America", "US01")]["enrolled"] == 2
    assert rows[("North America", "US01")]["died"] == 1
    total = rows[("(all)", "(all)")]
    assert (total["enrolled"], total["dosed_half"], total["dosed_full"],
            total["completed"], total["died"]) == (3, 1, 2, 2, 1)
