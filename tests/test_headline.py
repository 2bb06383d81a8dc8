"""The published headline, derived from the endpoint tables of the full sample trial.

SEED-trial-news.txt: 14 adults, 2 half dose and 12 full dose; among the 12 all free of severe
hypoglycaemia, HbA1c < 7 % and time in range > 70 %; 10 insulin independent, the other 2 with
reduced doses; 2 deaths.
"""

from __future__ import annotations

import duckdb
import pytest

from flows.nightly import nightly
from isletflow.demo import generate_trial

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def full_trial(tmp_path_factory, prefect_server):
    root = tmp_path_factory.mktemp("full")
    manifest = generate_trial(root / "landing")
    wh = root / "warehouse.duckdb"
    result = nightly(landing_dir=str(root / "landing"), warehouse=str(wh))
    con = duckdb.connect(str(wh), read_only=True)
    yield con, result, manifest
    con.close()


def one(con, sql):
    return con.sql(sql).fetchall()[0][0]


def test_fourteen_participants_two_half_twelve_full(full_trial):
    con, result, manifest = full_trial
    # the planted faulty files and rows are set aside, and nothing else
    assert result["files_not_loaded"] == 8  # the planted faults of a whole file
    assert sum(result["rows_quarantined"].values()) == 8
    reported = con.sql("SELECT file, rule, row FROM quality.site_queries "
                       "WHERE severity = 'error'").fetchall()
    assert sorted(reported, key=str) == sorted(
        [(f.rel_path, f.rule, f.row) for f in manifest.planted_faults], key=str)
    assert con.sql("SELECT dose_group, count(*) FROM endpoints.participant_summary "
                   "GROUP BY ALL ORDER BY 1").fetchall() == [("full", 12), ("half", 2)]
    assert one(con, "SELECT count(DISTINCT site_id) FROM endpoints.participant_summary") >= 4
    assert one(con, "SELECT count(DISTINCT region) FROM core.sites JOIN core.participants "
                    "USING (site_id)") == 2


def test_all_full_dose_participants_meet_the_headline(full_trial):
    con, _, _ = full_trial
    full = "FROM endpoints.participant_summary WHERE dose_group = 'full'"
    assert one(con, f"SELECT count(*) {full} AND she_free") == 12
    assert one(con, f"SELECT count(*) {full} AND last_hba1c_pct < 7.0") == 12
    assert one(con, f"SELECT count(*) {full} AND tir_pct > 70.0 AND tir_window = 'day_365'") == 12
    assert one(con, f"SELECT count(*) {full} AND cgm_sufficient") == 12
    assert one(con, f"SELECT count(*) {full} AND primary_met") == 12


def test_ten_insulin_independent_two_reduced(full_trial):
    con, _, _ = full_trial
    full = "FROM endpoints.participant_summary WHERE dose_group = 'full'"
    assert one(con, f"SELECT count(*) {full} AND insulin_independent") == 10
    reduced = con.sql(f"SELECT insulin_dose_change_pct {full} "
                      "AND NOT insulin_independent").fetchall()
    assert len(reduced) == 2
    assert all(r[0] < -25.0 for r in reduced)  # a real reduction, not noise


def test_two_deaths_with_their_causes(full_trial):
    con, _, _ = full_trial
    assert con.sql("SELECT cause, fatal_ae_terms FROM endpoints.deaths ORDER BY 1").fetchall() == [
        ("Cryptococcal meningitis", "Cryptococcal meningitis"),
        ("Worsening of pre-existing neurocognitive disorder", "Neurocognitive disorder")]
    total = con.sql("SELECT enrolled, dosed_half, dosed_full, completed, died FROM "
                    "endpoints.disposition WHERE region = '(all)'").fetchall()
    assert total == [(14, 2, 12, 12, 2)]


def test_the_meningitis_death_followed_off_protocol_steroid_use(full_trial):
    con, _, _ = full_trial
    dev = con.sql("SELECT participant_id, medication, start_day FROM "
                  "endpoints.prohibited_medications WHERE deviation").fetchall()
    assert len(dev) == 1 and dev[0][1] == "Prednisone"
    died = con.sql("SELECT participant_id, study_day FROM endpoints.deaths "
                   "WHERE cause = 'Cryptococcal meningitis'").fetchall()
    assert died[0][0] == dev[0][0] and dev[0][2] < died[0][1]


def test_serious_neutropenia_in_three(full_trial):
    con, _, _ = full_trial
    assert one(con, "SELECT count(*) FROM endpoints.neutropenia WHERE serious_neutropenia") == 3
    # and the central lab shows it: ANC below 1000 /mm3 (CTCAE v5 grade >= 3) in the same 3
    assert one(con, "SELECT count(*) FROM endpoints.neutropenia WHERE worst_grade >= 3 "
                    "AND serious_neutropenia") == 3
    assert one(con, "SELECT count(*) FROM endpoints.neutropenia WHERE worst_grade >= 3") == 3


def test_engraftment_and_igls_in_the_full_dose_group(full_trial):
    con, _, _ = full_trial
    assert one(con, "SELECT count(DISTINCT c.participant_id) FROM endpoints.c_peptide c JOIN "
                    "core.infusions i USING (participant_id) WHERE i.dose_group = 'full' AND "
                    "c.nominal_day = 365 AND c.engrafted") == 12
    # Igls at day 365 (Rickels 2018): treatment success (optimal or good) needs no severe
    # event in the year; GB01-001 had one on day 45, so 11 of 12
    # (core keeps every export's row of a record; the current one is the record)
    assert one(con, "SELECT count(*) FROM endpoints.igls JOIN core.infusions USING "
                    "(participant_id) WHERE dose_group = 'full' AND treatment_success "
                    "AND record_status = 'current'") == 11


def test_the_planted_missing_data_is_listed(full_trial):
    """The missing-data queries (sql/quality/missing_data/; tiny-table tests in
    tests/test_missing_data.py) list exactly the missing data the generator planted
    (isletflow/demo/missing.py), each with its participant, site, what and since when: the run
    is dated after the last file, so every one is due. Planted so that no headline above
    changes: CA01-001 (half dose, died on day 301) stops uploading CGM data on day 280 and has
    no diary in the day-120 window, US01-003 leaves an adverse-event form incomplete, and the
    missed lab visits of US01-004 (day 90) and GB01-002 (day 270) have no HbA1c."""
    con, _, manifest = full_trial
    listed = con.sql("SELECT rule, site_id, participant_id, value, since FROM "
                     "quality.site_queries WHERE participant_id IS NOT NULL").fetchall()
    planted = [(p.rule, p.site_id, p.participant_id, p.value, p.since)
               for p in manifest.planted_missing]
    assert {p[0] for p in planted} == {"cgm_gap", "visit_no_hba1c", "visit_no_form",
                                       "form_incomplete_overdue"}
    assert sorted(listed, key=str) == sorted(planted, key=str)
