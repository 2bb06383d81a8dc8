"""The trial as data: a study definition file (``trials/<name>.toml``) and its typed model.

Everything that differs between trials lives in the file and nowhere in code or SQL: sites and
their clocks, arms, the visit schedule with its REDCap events and central-lab visit labels, the
study-day convention, CGM analysis windows, which REDCap form / field / choice code feeds each
core column, the lab's test codes with their units and conversions, the endpoints' parameters,
safety thresholds and the prohibited medications. The model (pydantic v2) rejects unknown keys;
:func:`check_trial` reports every mistake at once, each with its path and the bad value
(``sites[2].timezone: unknown time zone 'Australia/Sydny'``).

TOML rather than YAML: Python reads it with the standard library (``tomllib``), and it has no
implicit typing (YAML 1.1 reads the country code ``NO`` as false and ``08:30`` as a number).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import zoneinfo
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import (AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag,
                      TypeAdapter, ValidationError, field_validator, model_validator)

# The analytes the endpoints read, each in the one unit every conversion ends in. A trial maps
# its lab vendor's test codes onto these (``[[lab_tests]]``).
ANALYTE_UNITS: dict[str, str] = {
    "hba1c": "%",                       # NGSP
    "c_peptide_fasting": "pmol/L",
    "c_peptide_stimulated": "pmol/L",   # 90-min mixed-meal tolerance test
    "anc": "cells/mm3",                 # absolute neutrophil count
}

# The core columns a trial maps from REDCap, per core table; each column's kind decides what
# its field map may say: 'text' / 'date' / 'number' take a field as exported; 'choice' a field
# and the meaning of each code; 'flag' (true / false) a field and the codes meaning true, or a
# checkbox field and the boxes meaning true. Optional columns may be left out of a trial.
REDCAP_COLUMNS: dict[str, dict[str, tuple[str, bool]]] = {
    # table: {column: (kind, required)}
    "participants": {"enrolment_date": ("date", True), "age_years": ("number", True),
                     "sex": ("choice", True), "weight_kg": ("number", True),
                     "diabetes_duration_years": ("number", False)},
    "infusions": {"infusion_date": ("date", True), "study_part": ("text", False),
                  "dose_fraction": ("number", True)},
    "she_events": {"event_date": ("date", True), "third_party_assistance": ("flag", True),
                   "glucose_mg_dl": ("number", False)},
    "insulin_diary": {"diary_date": ("date", True), "basal_u": ("number", True),
                      "bolus_u": ("number", True)},
    "adverse_events": {"preferred_term": ("text", True), "system_organ_class": ("text", True),
                       "onset_date": ("date", True), "serious": ("flag", True),
                       "ctcae_grade": ("number", True), "outcome": ("choice", True)},
    "concomitant_medications": {"medication": ("text", True), "indication": ("text", False),
                                "start_date": ("date", True), "stop_date": ("date", False)},
    "disposition": {"status": ("choice", True), "status_date": ("date", True),
                    "death_cause": ("text", False)},
}
# The values a 'choice' column may take (what the endpoints test for).
CHOICE_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("participants", "sex"): ("F", "M"),
    ("adverse_events", "outcome"): ("recovered", "recovering", "not recovered", "fatal"),
    ("disposition", "status"): ("completed", "ongoing", "died", "withdrew"),
}

DEFAULT_TRIAL = Path(__file__).resolve().parent.parent / "trials" / "islet-101.toml"

Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]


def _ordered(v: tuple[int, int]) -> tuple[int, int]:
    if v[0] > v[1]:
        raise ValueError(f"first day {v[0]} is after last day {v[1]}")
    return v


# First and last study day (or value), both inclusive, first <= last.
DayRange = Annotated[tuple[int, int], AfterValidator(_ordered)]
# A REDCap choice code as exported: no surrounding spaces (the export has none).
Code = Annotated[str, Field(min_length=1, pattern=r"^\S(.*\S)?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Study(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    title: Annotated[str, Field(min_length=1)]
    phase: str | None = None
    # day0: the infusion day is study day 0 (the day before is -1); day1: the infusion day is
    # study day 1 and the day before is -1 (CDISC SDTM: there is no day 0).
    study_day_convention: Literal["day0", "day1"]
    participant_id_pattern: str = r"^[A-Z]{2}\d{2}-\d{3}$"
    eligible_age: DayRange = (18, 65)

    @field_validator("participant_id_pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        # checked as polars (Rust regex) uses it in the contracts: no look-around, no
        # backreferences
        try:
            pl.Series([""]).str.contains(v)
        except pl.exceptions.PolarsError:
            raise ValueError(f"not a regular expression polars can use: {v!r} (no "
                             "look-around or backreferences)") from None
        return v


class Arm(_Strict):
    """A dose group; a participant's group is the arm with the highest ``dose_fraction`` not
    above the infused fraction (the lowest arm for anything smaller but above 0)."""

    id: Name
    label: str
    dose_fraction: Annotated[float, Field(gt=0)]
    efficacy_population: bool = False


class Site(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{2,16}$")]
    city: str
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]   # ISO 3166-1 alpha-2
    region: str
    timezone: str
    redcap_dag: str | None = None   # the site's REDCap data access group

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        if v not in zoneinfo.available_timezones():
            raise ValueError(f"unknown time zone {v!r}")
        return v


class Visit(_Strict):
    name: Name
    day: int                       # nominal study day (in the trial's convention)
    window: DayRange               # earliest and latest study day the visit may take place
    redcap_event: str | None = None
    lab_visit: str | None = None   # the central lab's label for the visit (default: name)

    @model_validator(mode="after")
    def _window(self) -> Visit:
        lo, hi = self.window
        if not lo <= self.day <= hi:
            raise ValueError(f"window {list(self.window)} does not contain day {self.day}")
        return self

    @property
    def lab_label(self) -> str:
        return self.lab_visit or self.name


class CgmWindow(_Strict):
    name: Name
    days: DayRange                 # first and last study day, both inclusive


class FieldMap(_Strict):
    """Where a core column comes from: ``field`` (a REDCap field) or ``checkbox`` (a checkbox
    field, exported as one column ``<checkbox>___<code>`` per box); ``choices`` maps codes to
    the column's values; ``true_codes`` lists the codes (or boxes) meaning true."""

    field: Name | None = None
    checkbox: Name | None = None
    choices: dict[Code, str] | None = None
    true_codes: list[Code] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldMap:
        if (self.field is None) == (self.checkbox is None):
            raise ValueError("give exactly one of field or checkbox")
        if self.checkbox is not None and not self.true_codes:
            raise ValueError("a checkbox needs true_codes (the boxes meaning true)")
        if self.choices is not None and self.true_codes is not None:
            raise ValueError("give choices or true_codes, not both")
        return self

    @property
    def name(self) -> str:
        return self.field or self.checkbox or ""


# A core column's source: a field name, or a table (FieldMap); told apart by its shape, so a
# mistake is reported once, against the form the file used.
FieldRef = Annotated[
    Annotated[Name, Tag("name")] | Annotated[FieldMap, Tag("map")],
    Discriminator(lambda v: "map" if isinstance(v, (dict, FieldMap)) else "name")]


class FormMap(_Strict):
    form: Name
    fields: dict[str, FieldRef]

    def field_map(self, column: str) -> FieldMap:
        f = self.fields[column]
        return FieldMap(field=f) if isinstance(f, str) else f


class Redcap(_Strict):
    dictionary: str | None = None   # the project's data dictionary, relative to the trial file
    forms: dict[str, FormMap]

    @field_validator("forms")
    @classmethod
    def _columns(cls, forms: dict[str, FormMap]) -> dict[str, FormMap]:
        errors = []
        for table, fm in forms.items():
            if table not in REDCAP_COLUMNS:
                errors.append(f"{table}: not a core table read from REDCap "
                              f"(one of {', '.join(REDCAP_COLUMNS)})")
                continue
            known = REDCAP_COLUMNS[table]
            for col in fm.fields:
                if col not in known:
                    errors.append(f"{table}.fields.{col}: not a column of core.{table} "
                                  f"(one of {', '.join(known)})")
            for col, (kind, required) in known.items():
                if required and col not in fm.fields:
                    errors.append(f"{table}.fields: {col} is missing")
                if col not in fm.fields:
                    continue
                m = fm.field_map(col)
                allowed = CHOICE_VALUES.get((table, col))
                if kind == "choice" and not m.choices:
                    errors.append(f"{table}.fields.{col}: needs choices (code = one of "
                                  f"{', '.join(allowed or ())})")
                elif kind == "choice":
                    bad = sorted(set(m.choices.values()) - set(allowed or ()))
                    if bad:
                        errors.append(f"{table}.fields.{col}.choices: {bad} not among "
                                      f"{list(allowed or ())}")
                elif kind == "flag" and not m.true_codes:
                    errors.append(f"{table}.fields.{col}: needs true_codes")
                elif kind not in ("choice", "flag") and (m.choices or m.true_codes
                                                         or m.checkbox):
                    errors.append(f"{table}.fields.{col}: a {kind} column takes a field only")
        missing = [t for t in REDCAP_COLUMNS if t not in forms]
        errors += [f"{t}: missing (every core table read from REDCap needs its form)"
                   for t in missing]
        if errors:
            raise ValueError("; ".join(errors))
        return forms


class LabUnit(_Strict):
    """A unit the lab may send; value in the analyte's unit = result x factor + offset."""

    unit: Annotated[str, Field(min_length=1)]
    factor: float = 1.0
    offset: float = 0.0


class LabTest(_Strict):
    code: Annotated[str, Field(min_length=1)]
    analyte: Literal["hba1c", "c_peptide_fasting", "c_peptide_stimulated", "anc"]
    units: Annotated[list[LabUnit], Field(min_length=1)]


class Primary(_Strict):
    """No SHE on days ``she_days``, and HbA1c below ``hba1c_below_pct`` or a drop of at least
    ``hba1c_drop_pp`` points at a visit whose nominal day is in ``hba1c_days``."""

    she_days: DayRange
    hba1c_days: DayRange
    hba1c_below_pct: float
    hba1c_drop_pp: float


class InsulinIndependence(_Strict):
    days: DayRange
    baseline_days: DayRange
    days_before_visit: Annotated[int, Field(ge=0)]   # "off insulin at visit": this many days


class Igls(_Strict):
    day: int
    hba1c_from_day: int

    @model_validator(mode="after")
    def _from_before_day(self) -> Igls:
        if self.hba1c_from_day > self.day:
            raise ValueError(f"hba1c_from_day {self.hba1c_from_day} is after day {self.day}")
        return self

    she_baseline_days: DayRange
    insulin_days: Annotated[int, Field(ge=1)]
    hba1c_optimal_max_pct: float
    hba1c_good_below_pct: float
    insulin_good_fraction_below: float
    insulin_good_u_kg_below: float
    c_peptide_min_pmol_l: float


class Endpoints(_Strict):
    primary: Primary
    insulin_independence: InsulinIndependence
    igls: Igls
    summary_window: Name   # the CGM window of the participant summary and the report's AGP


class Safety(_Strict):
    anc_lln_per_mm3: Annotated[float, Field(gt=0)]
    c_peptide_lloq_pmol_l: Annotated[float, Field(gt=0)]
    prohibited_medications: Annotated[list[Annotated[str, Field(pattern=r"^\S(.*\S)?$")]],
                                      Field(min_length=1)]
    prohibited_reason: str


# The core tables a visit's EDC record can be read from, with the date column that places a
# record in a visit's window (the REDCap forms of REDCAP_COLUMNS, each by its core table).
VISIT_FORM_DATES: dict[str, str] = {
    "participants": "enrolment_date", "infusions": "infusion_date", "she_events": "event_date",
    "insulin_diary": "diary_date", "adverse_events": "onset_date",
    "concomitant_medications": "start_date", "disposition": "status_date",
}


class MissingData(_Strict):
    """Settings of the missing-data queries, the data manager's daily list
    (sql/quality/missing_data/; every key optional, the defaults below when absent).

    ``cgm_gap_days`` (N, default 14): a participant on study with no CGM reading for more than
    N days. 14 is the International Consensus's minimum of CGM data for one analysis window
    (Battelino et al., Diabetes Care 2019;42:1593): a longer gap inside a 28-day window can no
    longer give a sufficient window, so it is worth a query while the site can still recover it
    from the device or its cloud account. ``cgm_expected``: when CGM data are owed:
    "continuous" (worn throughout follow-up, from enrolment) or "cgm_windows" (worn only around
    the trial's CGM analysis windows: only the days inside a window count towards N).
    ``hba1c_visits``: the visits at which the central lab reports an HbA1c (default: the visits
    whose nominal day lies in ``endpoints.primary.hba1c_days``, the time points the primary
    endpoint reads). ``visit_forms``: the REDCap forms (by the core table they feed) of which a
    follow-up visit needs at least one record dated in its window, by the table's date column
    (VISIT_FORM_DATES); default the insulin diary, the record of the days before each visit
    that "off insulin at visit" reads (the sample trials' projects have no form of their own
    per visit); [] asks for none. ``form_incomplete_days`` (M, default 14): a REDCap form
    standing incomplete or unverified, unchanged, for more than M days. Sites export weekly, so
    the day a form was last changed is known only to within a week: 14 days is at least one
    full weekly export after the one that showed it, the same clock as N, and the two-week
    data-entry target of common CRF completion guidelines.
    """

    cgm_gap_days: Annotated[int, Field(ge=1)] = 14
    cgm_expected: Literal["continuous", "cgm_windows"] = "continuous"
    hba1c_visits: list[Name] | None = None
    visit_forms: list[str] = ["insulin_diary"]
    form_incomplete_days: Annotated[int, Field(ge=1)] = 14

    @field_validator("visit_forms")
    @classmethod
    def _forms(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if t not in VISIT_FORM_DATES]
        if bad:
            raise ValueError(f"{bad} not among the REDCap core tables "
                             f"({', '.join(VISIT_FORM_DATES)})")
        return v


class Trial(_Strict):
    study: Study
    arms: Annotated[list[Arm], Field(min_length=1)]
    sites: Annotated[list[Site], Field(min_length=1)]
    visits: Annotated[list[Visit], Field(min_length=1)]
    cgm_windows: Annotated[list[CgmWindow], Field(min_length=1)]
    redcap: Redcap
    lab_tests: Annotated[list[LabTest], Field(min_length=1)]
    endpoints: Endpoints
    safety: Safety
    missing_data: MissingData = MissingData()
    # set by load_trial, never read from the file
    source: Path | None = Field(default=None, exclude=True)
    sha256: str | None = Field(default=None, exclude=True)

    @field_validator("arms")
    @classmethod
    def _arms(cls, v: list[Arm]) -> list[Arm]:
        _unique((a.id for a in v), "id")
        _unique((a.dose_fraction for a in v), "dose_fraction")
        if not any(a.efficacy_population for a in v):
            raise ValueError("no arm is the efficacy population (efficacy_population = true)")
        return v

    @field_validator("sites")
    @classmethod
    def _sites(cls, v: list[Site]) -> list[Site]:
        _unique((s.id for s in v), "id")
        _unique((s.redcap_dag for s in v if s.redcap_dag), "redcap_dag")
        return v

    @field_validator("visits")
    @classmethod
    def _visits(cls, v: list[Visit]) -> list[Visit]:
        _unique((x.name for x in v), "name")
        _unique((x.redcap_event for x in v if x.redcap_event), "redcap_event")
        _unique((x.lab_label for x in v), "lab_visit")
        ordered = sorted(v, key=lambda x: x.day)
        for a, b in zip(ordered, ordered[1:]):
            if a.window[1] >= b.window[0]:
                raise ValueError(f"visit windows overlap: {a.name} {list(a.window)} and "
                                 f"{b.name} {list(b.window)}")
        return v

    @field_validator("cgm_windows")
    @classmethod
    def _windows(cls, v: list[CgmWindow]) -> list[CgmWindow]:
        _unique((w.name for w in v), "name")
        return v

    @field_validator("lab_tests")
    @classmethod
    def _lab(cls, v: list[LabTest]) -> list[LabTest]:
        _unique((t.code for t in v), "code")
        for t in v:
            _unique((normalise_unit(u.unit) for u in t.units), f"{t.code} unit")
        return v


    # ---- views the pipeline reads -------------------------------------------------------
    @property
    def site_ids(self) -> list[str]:
        return sorted(s.id for s in self.sites)

    @property
    def sites_by_id(self) -> dict[str, Site]:
        return {s.id: s for s in self.sites}

    @property
    def infusion_day(self) -> int:
        """The study day of the infusion: 0 or 1 (``study.study_day_convention``)."""
        return 1 if self.study.study_day_convention == "day1" else 0

    @property
    def lab_visit_days(self) -> dict[str, int]:
        """Nominal study day of each visit, by the central lab's visit label."""
        return {v.lab_label: v.day for v in sorted(self.visits, key=lambda x: x.day)}

    @property
    def last_day(self) -> int:
        """The last study day of the schedule (the last visit's window)."""
        return max(v.window[1] for v in self.visits)

    @property
    def hba1c_visits(self) -> list[str]:
        """The visits whose HbA1c the missing-data queries ask for: ``missing_data.
        hba1c_visits``, else the visits whose nominal day lies in the primary endpoint's
        ``hba1c_days``."""
        if self.missing_data.hba1c_visits is not None:
            return list(self.missing_data.hba1c_visits)
        lo, hi = self.endpoints.primary.hba1c_days
        return [v.name for v in sorted(self.visits, key=lambda x: x.day) if lo <= v.day <= hi]

    @property
    def efficacy_arms(self) -> list[str]:
        return [a.id for a in self.arms if a.efficacy_population]

    @property
    def redcap_fields(self) -> dict[str, tuple[str, ...]]:
        """REDCap fields the trial collects, per form (checkbox fields by their name): the
        nightly keeps these and drops every other field by name (readers/redcap.py)."""
        out: dict[str, list[str]] = {}
        for fm in self.redcap.forms.values():
            names = out.setdefault(fm.form, [])
            names += [fm.field_map(c).name for c in fm.fields
                      if fm.field_map(c).name not in names]
        return {form: tuple(names) for form, names in out.items()}

    def tables(self, file_id: str) -> dict[str, pl.DataFrame]:
        """The definition as rows of ``raw.trial_*`` tables (sql/raw/tables.sql), each row
        with ``file_id`` = the trial file's id in ``audit.files`` (lineage). A checkbox's true
        codes are stored as REDCap writes them in the export's column names
        (``<field>___<suffix>``, readers.redcap_dictionary.checkbox_suffix)."""
        from isletflow.readers.redcap_dictionary import checkbox_suffix

        sites = pl.DataFrame([{"site_id": s.id, "city": s.city, "country": s.country,
                               "region": s.region, "timezone": s.timezone,
                               "redcap_dag": s.redcap_dag} for s in self.sites],
                             schema={"site_id": pl.String, "city": pl.String,
                                     "country": pl.String, "region": pl.String,
                                     "timezone": pl.String, "redcap_dag": pl.String})
        arms = pl.DataFrame([{"arm_id": a.id, "label": a.label,
                              "dose_fraction": a.dose_fraction,
                              "efficacy_population": a.efficacy_population} for a in self.arms])
        visits = pl.DataFrame([{"visit": v.name, "nominal_day": v.day, "window_low": v.window[0],
                                "window_high": v.window[1], "redcap_event": v.redcap_event,
                                "lab_visit": v.lab_label} for v in self.visits],
                              schema={"visit": pl.String, "nominal_day": pl.Int32,
                                      "window_low": pl.Int32, "window_high": pl.Int32,
                                      "redcap_event": pl.String, "lab_visit": pl.String})
        fields, codes = [], []
        for table, fm in self.redcap.forms.items():
            for col in fm.fields:
                m = fm.field_map(col)
                kind = REDCAP_COLUMNS[table][col][0]
                how = ("checkbox" if m.checkbox else "flag" if kind == "flag"
                       else "choice" if kind == "choice" else "value")
                fields.append({"core_table": table, "column_name": col, "form": fm.form,
                               "field": m.name, "how": how})
                for code, label in (m.choices or {}).items():
                    codes.append({"core_table": table, "column_name": col, "code": code,
                                  "label": label})
                for code in m.true_codes or ():
                    codes.append({"core_table": table, "column_name": col,
                                  "code": checkbox_suffix(code) if m.checkbox else code,
                                  "label": "true"})
        units = pl.DataFrame([{"test_code": t.code, "analyte": t.analyte, "unit": u.unit,
                               "unit_key": normalise_unit(u.unit), "factor": u.factor,
                               "addend": u.offset, "analyte_unit": ANALYTE_UNITS[t.analyte]}
                              for t in self.lab_tests for u in t.units])
        code_schema = {"core_table": pl.String, "column_name": pl.String, "code": pl.String,
                       "label": pl.String}
        params = [{"name": name, "value": value} for name, value in _flatten(
            {"study": self.study.model_dump(), "endpoints": self.endpoints.model_dump(),
             "safety": self.safety.model_dump(),
             "missing_data": {**self.missing_data.model_dump(),
                              "hba1c_visits": self.hba1c_visits}})]
        out = {"trial_sites": sites, "trial_arms": arms, "trial_visits": visits,
               "trial_parameters": pl.DataFrame(params, schema={"name": pl.String,
                                                                "value": pl.String}),
               "trial_cgm_windows": pl.DataFrame(
                   [{"window": w.name, "start_day": w.days[0], "end_day": w.days[1]}
                    for w in self.cgm_windows],
                   schema={"window": pl.String, "start_day": pl.Int32, "end_day": pl.Int32}),
               "trial_redcap_fields": pl.DataFrame(fields),
               "trial_redcap_codes": pl.DataFrame(codes, schema=code_schema),
               "trial_lab_units": units}
        return {k: v.select(pl.lit(file_id).alias("file_id"), pl.all()) for k, v in out.items()}


def _flatten(d: dict, prefix: str = "") -> Iterable[tuple[str, str]]:
    """``{"a": {"b": 1}}`` as ``("a.b", "1")``; lists as JSON-like text."""
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", ", ".join(map(str, v)) if isinstance(v, (list, tuple)) \
                else str(v)


def normalise_unit(unit: str) -> str:
    """A unit as the lab SQL compares it: lower case, no spaces, '×' as 'x'
    (``sql/core/09_lab_results.sql`` applies the same to what the lab sent)."""
    return unit.strip().replace(" ", "").replace("×", "x").lower()


def _unique(values: Iterable[Any], what: str) -> None:
    seen, dup = set(), []
    for v in values:
        if v in seen:
            dup.append(v)
        seen.add(v)
    if dup:
        raise ValueError(f"{what} given more than once: {sorted(set(map(str, dup)))}")


class TrialError(ValueError):
    """A trial definition file with mistakes; ``errors`` lists each with its path."""

    def __init__(self, path: Path, errors: list[str]):
        self.path, self.errors = path, errors
        super().__init__(f"{path}: {len(errors)} mistake(s) in the trial definition:\n"
                         + "\n".join(f"  {e}" for e in errors))


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-plain") or "[" in str(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _messages(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        loc = _loc(tuple(p for p in e["loc"] if not (isinstance(p, str) and (
            p.startswith("function-") or p in ("str", "FieldMap", "name", "map")))))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "missing"
        bad = e.get("input")
        shown = "" if e["type"] in ("missing", "value_error") or isinstance(bad, (dict, list)) \
            else f" (got {bad!r})"
        for part in msg.split("; ") if e["type"] == "value_error" else [msg]:
            head, sep, rest = part.partition(": ")
            if sep and e["type"] == "value_error" and re.match(r"^[\w.\[\]]+$", head) \
                    and not head.startswith("visit"):
                out.append(f"{loc}.{head}: {rest}")
            else:
                out.append(f"{loc}: {part}{shown}")
    return out


def _cross_errors(data: dict, base: Path) -> list[str]:
    """Checks between parts of the file, each run when the parts it reads are valid."""
    out: list[str] = []

    def part(name: str, kind: Any) -> Any:
        try:
            return TypeAdapter(kind).validate_python(data.get(name))
        except ValidationError:
            return None

    visits = part("visits", list[Visit])
    windows = part("cgm_windows", list[CgmWindow])
    endpoints = part("endpoints", Endpoints)
    redcap = part("redcap", Redcap)
    if visits and windows:
        first = min(v.window[0] for v in visits)
        last = max(v.window[1] for v in visits)
        for i, w in enumerate(windows):
            if w.days[0] < first - 366 or w.days[1] > last:
                out.append(f"cgm_windows[{i}].days: {list(w.days)} reaches past the visit "
                           f"schedule (study days {first} to {last})")
    if windows and endpoints and endpoints.summary_window not in {w.name for w in windows}:
        out.append(f"endpoints.summary_window: {endpoints.summary_window!r} is not a CGM "
                   f"window ({', '.join(w.name for w in windows)})")
    if visits and endpoints:
        last = max(v.window[1] for v in visits)
        days = {"primary.she_days": endpoints.primary.she_days,
                "primary.hba1c_days": endpoints.primary.hba1c_days,
                "insulin_independence.days": endpoints.insulin_independence.days}
        for name, (lo, hi) in days.items():
            if hi > last:
                out.append(f"endpoints.{name}: day {hi} is after the schedule's last day {last}")
        lo, hi = endpoints.primary.hba1c_days
        if not any(lo <= v.day <= hi for v in visits):
            out.append(f"endpoints.primary.hba1c_days: no visit's nominal day is in "
                       f"[{lo}, {hi}] (the HbA1c time points)")
        if endpoints.igls.day not in {v.day for v in visits}:
            out.append(f"endpoints.igls.day: {endpoints.igls.day} is not a visit's nominal day")
    missing = part("missing_data", MissingData | None)
    if visits and missing and missing.hba1c_visits:
        names = {v.name for v in visits}
        out += [f"missing_data.hba1c_visits: {n!r} is not a visit ({', '.join(sorted(names))})"
                for n in missing.hba1c_visits if n not in names]
    study = part("study", Study)
    if study and study.study_day_convention == "day1":
        out += _day_zero_errors(visits, windows, endpoints)
    if redcap and redcap.dictionary:
        out += _dictionary_errors(redcap, base)
    return out


def _day_zero_errors(visits: list[Visit] | None, windows: list[CgmWindow] | None,
                     endpoints: Endpoints | None) -> list[str]:
    """In the day1 convention there is no study day 0 (the infusion day is day 1): a day, a
    window or a range that is or spans day 0 is a mistake (a window spanning it would count a
    day that does not exist, e.g. in the readings a CGM window expects)."""
    out = []
    spans = lambda r: r[0] <= 0 <= r[1]  # noqa: E731
    for i, v in enumerate(visits or []):
        if v.day == 0 or spans(v.window):
            out.append(f"visits[{i}]: study day 0 does not exist in the day1 convention "
                       f"(day {v.day}, window {list(v.window)})")
    for i, w in enumerate(windows or []):
        if spans(w.days):
            out.append(f"cgm_windows[{i}].days: {list(w.days)} spans study day 0, which does "
                       "not exist in the day1 convention")
    if endpoints:
        ranges = {"primary.she_days": endpoints.primary.she_days,
                  "primary.hba1c_days": endpoints.primary.hba1c_days,
                  "insulin_independence.days": endpoints.insulin_independence.days,
                  "insulin_independence.baseline_days":
                      endpoints.insulin_independence.baseline_days,
                  "igls.she_baseline_days": endpoints.igls.she_baseline_days}
        out += [f"endpoints.{n}: {list(r)} spans study day 0, which does not exist in the "
                "day1 convention" for n, r in ranges.items() if spans(r)]
    return out


def _dictionary_errors(redcap: Redcap, base: Path) -> list[str]:
    """The field map against the trial's REDCap data dictionary: every form and field named
    exists, in that form, and every choice code is one of the field's codes."""
    from isletflow.readers.redcap_dictionary import RedcapDictionary, checkbox_suffix

    path = (base / redcap.dictionary).resolve()
    if not path.is_file():
        return [f"redcap.dictionary: no such file {redcap.dictionary!r} (beside the trial file)"]
    try:
        dic = RedcapDictionary.from_file(path)
    except Exception as err:  # noqa: BLE001 - any unreadable dictionary is one error here
        return [f"redcap.dictionary: {redcap.dictionary!r} is not a REDCap data dictionary "
                f"({type(err).__name__})"]
    out = []
    for table, fm in redcap.forms.items():
        where = f"redcap.forms.{table}"
        if fm.form not in dic.forms:
            out.append(f"{where}.form: the dictionary has no form {fm.form!r}")
            continue
        for col in fm.fields:
            m = fm.field_map(col)
            spec = dic.fields.get(m.name)
            if spec is None:
                out.append(f"{where}.fields.{col}: the dictionary has no field {m.name!r}")
                continue
            if spec.form != fm.form:
                out.append(f"{where}.fields.{col}: field {m.name!r} is in form {spec.form!r}, "
                           f"not {fm.form!r}")
            if m.checkbox and spec.field_type != "checkbox":
                out.append(f"{where}.fields.{col}: {m.name!r} is a {spec.field_type} field, "
                           f"not a checkbox")
            if m.field and spec.field_type == "checkbox":
                out.append(f"{where}.fields.{col}: {m.name!r} is a checkbox field (exported "
                           f"as {m.name}___<code> columns): use checkbox = {m.name!r}")
            codes = list(m.choices or ()) + list(m.true_codes or ())
            if codes and spec.choices:
                known = {checkbox_suffix(c) for c in spec.choices} if m.checkbox \
                    else set(spec.choices)
                bad = [c for c in codes
                       if (checkbox_suffix(c) if m.checkbox else c) not in known]
                if bad:
                    out.append(f"{where}.fields.{col}: codes {bad} are not choices of "
                               f"{m.name!r} ({', '.join(spec.choices)})")
    return out


def check_trial(path: str | Path) -> list[str]:
    """Every mistake in the trial definition at ``path``, each as ``<path>: <what>``; [] if
    none."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [f"(file): no such file {str(path)!r}"]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        return [f"(file): not TOML: {err}"]
    errors: list[str] = []
    try:
        Trial.model_validate(data)
    except ValidationError as err:
        errors += _messages(err)
    errors += _cross_errors(data, path.resolve().parent)
    return list(dict.fromkeys(errors))


def load_trial(path: str | Path | None = None) -> Trial:
    """The validated trial at ``path`` (default: the sample trial, trials/islet-101.toml);
    :class:`TrialError` lists every mistake otherwise."""
    path = Path(path or DEFAULT_TRIAL).resolve()
    errors = check_trial(path)
    if errors:
        raise TrialError(path, errors)
    raw = path.read_bytes()
    return Trial.model_validate(tomllib.loads(raw.decode("utf-8"))).model_copy(
        update={"source": path, "sha256": hashlib.sha256(raw).hexdigest()})


def dictionary_path(trial: Trial) -> Path | None:
    """The trial's REDCap data dictionary, if it names one (relative to the trial file)."""
    if not trial.redcap.dictionary or trial.source is None:
        return None
    return (trial.source.parent / trial.redcap.dictionary).resolve()
