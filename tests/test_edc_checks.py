"""EDC checks from the trial's REDCap data dictionary (trials/islet-101.redcap-dictionary.csv,
named by trials/islet-101.toml) in a nightly build: each bad value of a hand-made enrolment
export is one warning query for the site, with the file, line, field and what was expected."""

from __future__ import annotations

from pathlib import Path

import duckdb

from isletflow.config import PROJECT_ROOT
from nightly_steps import build_night

HEADER = ("record_id,redcap_event_name,enrol_date,age,sex,weight_kg,t1d_duration_y,"
          "enrolment_complete\n")
ROWS = [
    "US01-001,screening_arm_1,2024-03-04,34,1,71.5,20,2\n",   # line 2: every value fits
    "US01-002,screening_arm_1,2024-03-05,17,2,80.0,12,2\n",   # line 3: age below min 18
    "US01-003,screening_arm_1,2024-03-06,40,3,66.0,9,2\n",    # line 4: sex code 3 unknown
    "US01-004,screening_arm_1,2024-02-30,52,2,90.0,30,2\n",   # line 5: no such date
    "US01-005,screening_arm_1,2024-03-08,,1,58.0,5,2\n",      # line 6: age required, empty
]


def test_dictionary_checks_land_in_the_site_listing(tmp_path: Path):
    edc = tmp_path / "landing" / "US01" / "edc"
    edc.mkdir(parents=True)
    (edc / "enrolment.csv").write_text(HEADER + "".join(ROWS))
    build, _ = build_night(tmp_path / "landing", tmp_path)
    with duckdb.connect(str(build), read_only=True) as con:
        got = con.sql("SELECT source_row, rule, column_name, value, severity FROM "
                      "quality.issues WHERE rule LIKE 'redcap_%' ORDER BY 1").fetchall()
        listed = con.sql("SELECT count(*) FROM quality.site_queries WHERE site_id = 'US01' "
                         "AND rule LIKE 'redcap_%'").fetchall()[0][0]
    assert got == [
        (3, "redcap_out_of_range", "age", "17", "warning"),
        (4, "redcap_unknown_choice", "sex", "3", "warning"),
        (5, "redcap_invalid_value", "enrol_date", "2024-02-30", "warning"),
        (6, "redcap_required_missing", "age", None, "warning"),
    ]
    assert listed == 4


def test_a_dose_between_arms_keeps_the_lower_arm_and_asks_the_site(tmp_path: Path):
    # arms of the sample trial: half 0.5, full 1.0 (trials/islet-101.toml)
    edc = tmp_path / "landing" / "US01" / "edc"
    edc.mkdir(parents=True)
    (edc / "enrolment.csv").write_text(HEADER + "".join(
        f"US01-00{i},screening_arm_1,2024-02-0{i},40,1,70.0,10,2\n" for i in range(1, 6)))
    (edc / "infusion.csv").write_text(
        "record_id,redcap_event_name,infusion_date,study_part,dose_fraction,infusion_complete\n"
        "US01-001,day_0_arm_1,2024-03-04,C,1.0,2\n"     # line 2: full
        "US01-002,day_0_arm_1,2024-03-05,C,0.7,2\n"     # line 3: between: half, asked
        "US01-003,day_0_arm_1,2024-03-06,A,0.3,2\n"     # line 4: below half: half, asked
        "US01-004,day_0_arm_1,2024-03-07,C,1.2,2\n"     # line 5: above every arm: set aside
        "US01-005,day_0_arm_1,2024-03-08,C,0,2\n")      # line 6: no dose: set aside
    build, moved = build_night(tmp_path / "landing", tmp_path)
    with duckdb.connect(str(build), read_only=True) as con:
        kept = con.sql("SELECT participant_id, dose_fraction, dose_group FROM core.infusions "
                       "ORDER BY 1").fetchall()
        asked = con.sql("SELECT source_row, severity FROM quality.issues "
                        "WHERE rule = 'dose_not_an_arm' ORDER BY 1").fetchall()
    assert kept == [("US01-001", 1.0, "full"), ("US01-002", 0.7, "half"),
                    ("US01-003", 0.3, "half")]
    assert asked == [(3, "warning"), (4, "warning")]
    assert moved["infusions"] == 2


def test_the_second_trial_reads_its_checkbox_and_checks_its_own_dictionary(tmp_path: Path):
    # trials/islet-301.toml: SHE assistance = any of boxes 2-4 of checkbox hy_help (family,
    # paramedic, hospital); box 1 (self-treated) is not ADA level 3. Its dictionary: a box is
    # 0 or 1, hy_bg an integer 10-600 mg/dL.
    edc = tmp_path / "landing" / "SYD1" / "edc"
    edc.mkdir(parents=True)
    (edc / "demographics.csv").write_text(
        "subject_id,redcap_event_name,dm_icdat,dm_age,dm_sex,dm_wt_kg,dm_t1d_yrs,"
        "demographics_complete\n"
        "SYD1-1001,scr_arm_1,2024-01-10,44,2,61.5,20,2\n")
    (edc / "hypo_events.csv").write_text(
        "subject_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,hy_date,"
        "hy_help___1,hy_help___2,hy_help___3,hy_help___4,hy_bg,hypo_events_complete\n"
        "SYD1-1001,scr_arm_1,hypo_events,1,2024-01-02,1,0,0,0,48,2\n"    # self-treated
        "SYD1-1001,scr_arm_1,hypo_events,2,2024-01-05,0,0,1,0,,2\n"      # paramedic
        "SYD1-1001,scr_arm_1,hypo_events,3,2024-01-07,0,2,0,0,700,2\n")  # box value 2, 700
    build, _ = build_night(tmp_path / "landing", tmp_path,
                           trial=PROJECT_ROOT / "trials" / "islet-301.toml")
    with duckdb.connect(str(build), read_only=True) as con:
        she = con.sql("SELECT instance, third_party_assistance, glucose_mg_dl FROM "
                      "core.she_events ORDER BY 1").fetchall()
        edc_rows = con.sql("SELECT source_row, rule, column_name, value FROM quality.issues "
                           "WHERE rule LIKE 'redcap_%' ORDER BY 1, 2").fetchall()
        sex = con.sql("SELECT sex FROM core.participants").fetchall()
    assert sex == [("F",)]  # this project codes 2 = Female (islet-101: 1 = Female)
    assert she == [(1, False, 48.0), (2, True, None), (3, False, 700.0)]
    # hy_help is required: a box holding 2 is not a ticked box, so none is ticked on line 4
    assert edc_rows == [(4, "redcap_invalid_value", "hy_help___2", "2"),
                        (4, "redcap_out_of_range", "hy_bg", "700"),
                        (4, "redcap_required_missing", "hy_help", None)]
