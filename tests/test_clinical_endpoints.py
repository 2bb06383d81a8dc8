"""SHE-free, HbA1c, insulin independence and the primary endpoint on hand-made frames."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from isletflow.endpoints.hba1c import hba1c_by_visit
from isletflow.endpoints.insulin_independence import insulin_independence
from isletflow.endpoints.primary_endpoint import primary_endpoint
from isletflow.endpoints.she_free import she_free
from isletflow.endpoints.study_day import with_study_day
from isletflow.trial import load_trial

# The sample trial's file holds the published definitions (Reichman et al., NEJM 2025):
# SHE-free days 90-365; HbA1c < 7.0 % or a 1.0-point drop at days 180-365; insulin
# independence days 180-365 against days -28..-1.
SAMPLE = load_trial()
VISIT_DAYS = SAMPLE.lab_visit_days
PRIMARY = SAMPLE.endpoints.primary
II = SAMPLE.endpoints.insulin_independence


def test_the_sample_trial_file_holds_the_published_definitions():
    assert PRIMARY.she_days == (90, 365) and PRIMARY.hba1c_days == (180, 365)
    assert (PRIMARY.hba1c_below_pct, PRIMARY.hba1c_drop_pp) == (7.0, 1.0)
    assert II.days == (180, 365) and II.baseline_days == (-28, -1)
    assert SAMPLE.efficacy_arms == ["full"] and SAMPLE.infusion_day == 0

DAY0 = dt.date(2024, 1, 1)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def infusions(*pids: str, dose: str = "full") -> pl.DataFrame:
    return pl.DataFrame({"participant_id": list(pids), "infusion_date": [DAY0] * len(pids),
                         "dose_group": [dose] * len(pids)})


def test_study_day_zero_is_the_infusion_day():
    df = pl.DataFrame({"participant_id": ["A", "A", "A"], "d": [day(-1), DAY0, day(365)]})
    assert with_study_day(df, infusions("A"), "d")["study_day"].to_list() == [-1, 0, 365]


def test_day1_convention_has_no_day_zero():
    # CDISC: the infusion day is day 1, the day before day -1, 365 days later day 366
    df = pl.DataFrame({"participant_id": ["A"] * 4, "d": [day(-2), day(-1), DAY0, day(365)]})
    inf = infusions("A").with_columns(infusion_day=pl.lit(1))
    assert with_study_day(df, inf, "d")["study_day"].to_list() == [-2, -1, 1, 366]


def test_she_window_is_day_90_through_365_inclusive_and_needs_assistance():
    ev = pl.DataFrame({
        "participant_id": ["A", "B", "C", "D", "E"],
        "event_date": [day(89), day(90), day(366), day(100), day(365)],
        "third_party_assistance": [True, True, True, False, True],
    })
    out = {r["participant_id"]: r for r in
           she_free(ev, infusions("A", "B", "C", "D", "E", "F"), *PRIMARY.she_days)
           .iter_rows(named=True)}
    assert out["A"]["she_free"] is True      # day 89 is before the window
    assert out["B"]["she_free"] is False and out["B"]["first_she_day"] == 90
    assert out["C"]["she_free"] is True      # day 366 is after it
    assert out["D"]["she_free"] is True      # no third-party assistance: not level 3
    assert out["E"]["she_free"] is False and out["E"]["she_count"] == 1
    assert out["F"]["she_free"] is True and out["F"]["she_count"] == 0  # no events at all


def lab(pid: str, rows: list[tuple[str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame({
        "participant_id": [pid] * len(rows), "visit": [r[0] for r in rows],
        "collection_date": [day(r[1]) for r in rows], "analyte": ["hba1c"] * len(rows),
        "value": [r[2] for r in rows], "unit": ["%"] * len(rows),
    })


def test_hba1c_baseline_is_the_last_value_on_or_before_day_0():
    labs = pl.concat([lab("A", [("screening", -30, 8.8), ("day_0", 0, 8.4),
                                ("day_180", 182, 6.9)]),
                      lab("A", [("day_90", 91, 7.2)])])
    out = hba1c_by_visit(labs, infusions("A"), {**VISIT_DAYS, "day_0": 0})
    assert out["baseline_hba1c_pct"].unique().to_list() == [8.4]
    d180 = out.filter(pl.col("visit") == "day_180").row(0, named=True)
    assert d180["study_day"] == 182 and d180["nominal_day"] == 180
    assert d180["change_from_baseline_pp"] == pytest.approx(-1.5)  # 6.9 - 8.4


def diary(pid: str, days_doses: list[tuple[int, float]]) -> pl.DataFrame:
    return pl.DataFrame({"participant_id": [pid] * len(days_doses),
                         "diary_date": [day(d) for d, _ in days_doses],
                         "total_daily_dose_u": [u for _, u in days_doses]})


def test_insulin_independence_and_dose_reduction():
    d = pl.concat([
        diary("A", [(-2, 40.0), (-1, 44.0), (180, 0.0), (365, 0.0)]),
        diary("B", [(-2, 40.0), (-1, 40.0), (180, 0.0), (200, 2.0), (365, 0.0)]),
        diary("C", [(-1, 30.0), (179, 0.0), (366, 0.0)]),
    ])
    parts = pl.DataFrame({"participant_id": ["A", "B", "C"], "weight_kg": [80.0, 50.0, 60.0]})
    out = {r["participant_id"]: r for r in
           insulin_independence(d, infusions("A", "B", "C"), parts, *II.days, II.baseline_days)
           .iter_rows(named=True)}
    assert out["A"]["insulin_independent"] is True
    assert out["A"]["baseline_dose_u_day"] == pytest.approx(42.0)       # (40 + 44) / 2
    assert out["A"]["baseline_dose_u_kg_day"] == pytest.approx(0.525)   # 42 / 80
    assert out["A"]["dose_change_pct"] == pytest.approx(-100.0)
    assert out["B"]["insulin_independent"] is False                     # 2 U on day 200
    assert out["B"]["mean_dose_u_day"] == pytest.approx(2.0 / 3.0)      # (0 + 2 + 0) / 3
    assert out["B"]["dose_change_pct"] == pytest.approx((2.0 / 3.0 - 40.0) / 40.0 * 100.0)
    # C has diary days only outside 180-365: not evaluable, not "independent"
    assert out["C"]["n_diary_days"] == 0 and out["C"]["insulin_independent"] is None


def test_primary_endpoint_conditions_and_reasons():
    inf = infusions("A", "B", "C", "D", "E")
    she = pl.DataFrame({"participant_id": ["A", "B", "C", "D", "E"],
                        "she_free": [True, True, False, True, True],
                        "first_she_day": [None, None, 120, None, None]})
    h = pl.DataFrame({
        "participant_id": ["A", "A", "B", "C", "D", "E"],
        "nominal_day": [90, 270, 180, 365, 180, 90],
        "hba1c_pct": [6.5, 6.8, 7.5, 6.2, 7.4, 6.0],
        # B: 8.5 -> 7.5 is a decrease of exactly 1.0 point; D: 8.0 -> 7.4 only 0.6
        "change_from_baseline_pp": [-2.0, -1.7, -1.0, -2.0, -0.6, -2.5],
    })
    out = {r["participant_id"]: r for r in primary_endpoint(
        she, h, inf, *PRIMARY.hba1c_days, PRIMARY.she_days, PRIMARY.hba1c_below_pct,
        PRIMARY.hba1c_drop_pp, SAMPLE.efficacy_arms).iter_rows(named=True)}
    assert out["A"]["primary_met"] is True and out["A"]["glycaemic_day"] == 270  # day 90 too early
    assert out["B"]["primary_met"] is True and out["B"]["reason"].startswith("met:")
    assert out["C"]["primary_met"] is False
    assert out["C"]["reason"] == "not met: severe hypoglycaemic event on day 120 (days 90-365)"
    assert out["D"]["primary_met"] is False and "best 7.4 %" in out["D"]["reason"]
    assert out["E"]["primary_met"] is None  # its only HbA1c is at day 90
    assert out["E"]["reason"] == "not evaluable: no HbA1c time point at days 180-365"
