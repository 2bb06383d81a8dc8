"""pandera (polars) contracts for the core tables: types, nullability and allowed values.

Each model validates one core table as it comes out of the SQL in ``sql/core/``. A row that
breaks a check is moved to ``quality.quarantined_rows`` with the check that failed. What
depends on the trial (participant id format, sites, eligible ages, arms) is added from the
trial definition file by :func:`core_contracts`.
"""

from __future__ import annotations

import polars as pl
import pandera.polars as pa

from isletflow.trial import ANALYTE_UNITS, Trial


class _Lineage(pa.DataFrameModel):
    source_file_id: str = pa.Field(str_length={"min_value": 16, "max_value": 16},
                                   description="audit.files.file_id of the source export.")
    source_row: pl.Int64 = pa.Field(ge=2, description="Line number in the source export.")
    record_status: str = pa.Field(
        isin=["current", "overlap", "superseded"],
        description="Record identity (schemas/keys.py): 'current' = the row from the file "
                    "received last for this record's key; 'overlap' = an older row with the "
                    "same values; 'superseded' = an older row with other values. Count only "
                    "current rows.")

    class Config:
        strict = True


class Participant(_Lineage):
    participant_id: str = pa.Field(description="Trial participant ID (the record's key).")
    site_id: str = pa.Field(description="Site that enrolled the participant.")
    enrolment_date: pl.Date = pa.Field(description="Date of enrolment.")
    age_years: pl.Int32 = pa.Field(description="Age at enrolment (the trial's eligible ages).")
    sex: str = pa.Field(isin=["F", "M"], description="Sex (from the trial's REDCap codes).")
    weight_kg: pl.Float64 = pa.Field(gt=25, lt=250, description="Body weight, kg.")
    diabetes_duration_years: pl.Int32 = pa.Field(ge=0, nullable=True,
                                                 description="Years since T1D diagnosis.")


class Infusion(_Lineage):
    participant_id: str = pa.Field(description="Trial participant ID (the record's key).")
    infusion_date: pl.Date = pa.Field(description="Day 0: date of the portal-vein infusion.")
    study_part: str = pa.Field(nullable=True,
                               description="Protocol part, where the trial has parts.")
    dose_fraction: pl.Float64 = pa.Field(description="Fraction of the full dose (one of the "
                                                     "trial's arms).")
    dose_group: str = pa.Field(description="Dose group: the trial's arm id.")


class CgmReading(_Lineage):
    participant_id: str = pa.Field(description="From the file name.")
    site_id: str = pa.Field(description="Landing folder of the export.")
    device: str = pa.Field(isin=["dexcom", "libre_historic", "libre_scan"],
                           description="Device and record type.")
    interval_min: pl.Int32 = pa.Field(isin=[5, 15], nullable=True,
                                      description="Sampling interval, min (none for scans).")
    timestamp_local: pl.Datetime("us") = pa.Field(description="Device clock (site local time).")
    timestamp_utc: pl.Datetime("us") = pa.Field(description="Reading time, UTC.")
    glucose_mg_dl: pl.Float64 = pa.Field(description="Glucose, mg/dL (censored: boundary).")
    censored: str = pa.Field(isin=["low", "high"], nullable=True,
                             description="'low' for a Low reading (< 40), 'high' for High (> 400).")
    glucose_original: str = pa.Field(description="Glucose text as exported.")
    unit_original: str = pa.Field(isin=["mg/dL", "mmol/L"], description="Unit in the export.")


class SevereHypoglycemiaEvent(_Lineage):
    participant_id: str = pa.Field(description="Trial participant ID.")
    event_date: pl.Date = pa.Field(description="Date of the event.")
    third_party_assistance: bool = pa.Field(description="Needed assistance (ADA level 3).")
    glucose_mg_dl: pl.Float64 = pa.Field(nullable=True, description="Glucose if measured.")
    event_name: str = pa.Field(nullable=True, description="REDCap event the form was filed "
                               "under (none in a classic, non-longitudinal project).")
    instance: pl.Int32 = pa.Field(ge=1, nullable=True, description="REDCap repeat instance "
                                  "(none for a form filed once).")


class InsulinDiaryDay(_Lineage):
    participant_id: str = pa.Field(description="Trial participant ID.")
    diary_date: pl.Date = pa.Field(description="Diary day.")
    basal_u: pl.Float64 = pa.Field(ge=0, le=300, description="Basal insulin, U.")
    bolus_u: pl.Float64 = pa.Field(ge=0, le=300, description="Bolus insulin, U.")
    total_daily_dose_u: pl.Float64 = pa.Field(ge=0, le=600, description="Basal + bolus, U/day.")
    event_name: str = pa.Field(nullable=True, description="REDCap event the form was filed "
                               "under (none in a classic, non-longitudinal project).")
    instance: pl.Int32 = pa.Field(ge=1, nullable=True, description="REDCap repeat instance "
                                  "(none for a form filed once).")


class AdverseEvent(_Lineage):
    participant_id: str = pa.Field(description="Trial participant ID.")
    preferred_term: str = pa.Field(description="MedDRA preferred term.")
    system_organ_class: str = pa.Field(description="MedDRA system organ class.")
    onset_date: pl.Date = pa.Field(description="Onset date.")
    serious: bool = pa.Field(description="Serious adverse event.")
    ctcae_grade: pl.Int32 = pa.Field(ge=1, le=5, description="CTCAE v5 grade.")
    outcome: str = pa.Field(isin=["recovered", "recovering", "not recovered", "fatal"],
                            description="Outcome.")
    event_name: str = pa.Field(nullable=True, description="REDCap event the form was filed "
                               "under (none in a classic, non-longitudinal project).")
    instance: pl.Int32 = pa.Field(ge=1, nullable=True, description="REDCap repeat instance "
                                  "(none for a form filed once).")


class ConcomitantMedication(_Lineage):
    participant_id: str = pa.Field(description="Trial participant ID.")
    medication: str = pa.Field(description="Medication name.")
    indication: str = pa.Field(nullable=True, description="Indication.")
    start_date: pl.Date = pa.Field(description="Start date.")
    stop_date: pl.Date = pa.Field(nullable=True, description="Stop date, if stopped.")
    event_name: str = pa.Field(nullable=True, description="REDCap event the form was filed "
                               "under (none in a classic, non-longitudinal project).")
    instance: pl.Int32 = pa.Field(ge=1, nullable=True, description="REDCap repeat instance "
                                  "(none for a form filed once).")


class Disposition(_Lineage):
    participant_id: str = pa.Field(description="Trial participant ID (the record's key).")
    status: str = pa.Field(isin=["completed", "ongoing", "died", "withdrew"],
                           description="End-of-study status.")
    status_date: pl.Date = pa.Field(nullable=True, description="Date of the status.")
    death_cause: str = pa.Field(nullable=True, description="Cause of death, if died.")


class LabResult(_Lineage):
    participant_id: str = pa.Field(description="Trial participant ID.")
    site_id: str = pa.Field(description="Landing folder of the file.")
    visit: str = pa.Field(description="Scheduled visit label.")
    collection_date: pl.Date = pa.Field(description="Sample collection date.")
    test_code: str = pa.Field(description="The central lab's test code (the trial's "
                                          "[[lab_tests]]).")
    analyte: str = pa.Field(isin=sorted(ANALYTE_UNITS), description="The analyte the code "
                            "measures.")
    value: pl.Float64 = pa.Field(description="Result in `unit` (converted where needed).")
    unit: str = pa.Field(isin=sorted(set(ANALYTE_UNITS.values())),
                         description="Canonical unit: HbA1c NGSP %, C-peptide pmol/L, ANC /mm3.")
    accession: str = pa.Field(nullable=True, description="Lab accession number, when sent.")
    accession_key: str = pa.Field(
        nullable=True, description="Accession in the record's key: the accession when every "
                                   "file that sent this result carried one, else empty.")
    value_original: str = pa.Field(description="Result text as sent by the lab.")
    unit_original: str = pa.Field(description="Unit as sent by the lab.")


# core table -> contract, in the order the tables are validated.
CORE_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "participants": Participant,
    "infusions": Infusion,
    "cgm_readings": CgmReading,
    "she_events": SevereHypoglycemiaEvent,
    "insulin_diary": InsulinDiaryDay,
    "adverse_events": AdverseEvent,
    "concomitant_medications": ConcomitantMedication,
    "disposition": Disposition,
    "lab_results": LabResult,
}


class FingerstickGlucose(_Lineage):
    """Blood (test-strip) glucose that a CGM export carries (FreeStyle Libre record type 2,
    the reader's built-in meter): kept apart from the CGM readings, never in CGM metrics.
    Key: (participant_id, timestamp_utc)."""

    participant_id: str = pa.Field(description="From the file name.")
    site_id: str = pa.Field(description="Landing folder of the export.")
    timestamp_local: pl.Datetime("us") = pa.Field(description="Device clock (site local time).")
    timestamp_utc: pl.Datetime("us") = pa.Field(description="Measurement time, UTC.")
    glucose_mg_dl: pl.Float64 = pa.Field(
        ge=20, le=500, description="Glucose, mg/dL (mmol/L x 18.018, rounded); the FreeStyle "
                                   "meters' measuring range is 20-500 mg/dL.")
    glucose_original: str = pa.Field(description="Glucose text as exported.")
    unit_original: str = pa.Field(isin=["mg/dL", "mmol/L"], description="Unit in the export.")


CORE_MODELS["fingerstick_glucose"] = FingerstickGlucose


def core_contracts(trial: Trial) -> dict[str, pa.DataFrameSchema]:
    """Each core table's contract (``CORE_MODELS``) with the trial's own checks added: the
    participant id format and the sites of every table that has them, the eligible ages, and
    the arms' ids and dose fractions (the trial definition file, isletflow/trial.py)."""
    lo, hi = trial.study.eligible_age
    extra: dict[str, list] = {
        "participant_id": [pa.Check.str_matches(trial.study.participant_id_pattern)],
        "site_id": [pa.Check.isin(trial.site_ids)],
        "age_years": [pa.Check.ge(lo), pa.Check.le(hi)],
        "dose_group": [pa.Check.isin([a.id for a in trial.arms])],
        # a partial infusion belongs to an arm too (sql/core/02_infusions.sql): any fraction
        # above 0 up to the highest arm's
        "dose_fraction": [pa.Check.gt(0), pa.Check.le(max(a.dose_fraction for a in trial.arms))],
    }
    out = {}
    for table, model in CORE_MODELS.items():
        schema = model.to_schema()
        out[table] = schema.update_columns({
            c: {"checks": [*schema.columns[c].checks, *checks]}
            for c, checks in extra.items() if c in schema.columns})
    return out
