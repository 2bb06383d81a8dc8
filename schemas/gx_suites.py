"""Great Expectations suites: plausibility of CGM readings and central-lab results.

GX's SQL datasource fails on DuckDB (DESIGN.md, "Known constraints"), so the suites run on
pandas batches of the core tables.
"""

from __future__ import annotations

import great_expectations as gx
from great_expectations.expectations.row_conditions import Column

# Plausible ranges of each analyte in its unit (isletflow.trial.ANALYTE_UNITS), whatever the
# trial's lab calls the test.
LAB_RANGES: dict[str, tuple[float, float]] = {
    "hba1c": (3.0, 20.0),                   # % (NGSP)
    "c_peptide_fasting": (0.0, 5000.0),     # pmol/L
    "c_peptide_stimulated": (0.0, 10000.0),  # pmol/L
    "anc": (0.0, 50000.0),                  # cells/mm3
}


def cgm_readings_suite() -> gx.ExpectationSuite:
    """CGM readings lie in the device's reporting range, with a time and a participant."""
    suite = gx.ExpectationSuite(name="cgm_readings")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(
        column="glucose_mg_dl", min_value=40, max_value=400,
        meta={"why": "Dexcom reports 40-400 mg/dL; outside is Low/High (censored)"}))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="timestamp_utc"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="participant_id"))
    return suite


def lab_results_suite() -> gx.ExpectationSuite:
    """Each lab result lies in the plausible range of its analyte."""
    suite = gx.ExpectationSuite(name="lab_results")
    for analyte, (lo, hi) in LAB_RANGES.items():
        suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(
            column="value", min_value=lo, max_value=hi,
            row_condition=Column("analyte") == analyte,
            meta={"analyte": analyte}))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="collection_date"))
    return suite


GX_SUITES = {"cgm_readings": cgm_readings_suite, "lab_results": lab_results_suite}
