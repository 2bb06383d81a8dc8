"""The trial's REDCap project and the files REDCap writes from it: one-form exports, the
whole-project export, and the data dictionary.

What REDCap writes (``shared/reference/real/PROVENANCE.md``, section C, and the real files
beside it): CSV the way PHP's ``fputcsv`` writes it (a cell is quoted only when it holds a
space, comma, quote, tab, backslash or line break), LF line ends. A flat export starts with the
record id, then REDCap's own columns (``redcap_event_name``, ``redcap_repeat_instrument``,
``redcap_repeat_instance``, and in a whole-project export ``redcap_data_access_group``), then
each form's fields followed by its ``<form>_complete`` status; a checkbox field is one column
per choice, ``field___code``. A row is one record x event, or one instance of a repeating
form. The status is 2 (complete) where the row has the form's data and empty where it has
not; checkbox columns are empty on rows without their form (as in C1). The dictionary is the
18-column metadata CSV with REDCap's exact download header.

One-form exports are sent "de-identified" (REDCap's export option that removes fields flagged
``Identifier?``), so they have no date-of-birth column; the whole-project export is the full
data set, with it, and the dictionary flags it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from isletflow.demo.edc_lab import Record

# REDCap's download header (PROVENANCE.md C), written here from the reference file rather than
# taken from the reader (isletflow/readers/redcap_dictionary.py): the generator plants the real
# format independently, so a reader mistake cannot hide behind a shared constant.
DICTIONARY_HEADER = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
    "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
    "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?",
    "Field Annotation",
]
PROJECT = "IsletTrial"  # REDCap names downloads after the project: <PROJECT>_DATA_<date>.csv
EVENTS = ("screening_arm_1", "day_0_arm_1", "follow_up_arm_1", "end_of_study_arm_1")
AE_ACTION_CHOICES = ("1, None | 2, Immunosuppression dose reduced | "
                     "3, Immunosuppression interrupted | 4, Immunosuppression withdrawn | "
                     "5, Not applicable")


@dataclass(frozen=True)
class Field:
    """One row of the data dictionary."""

    name: str
    ftype: str
    label: str
    choices: str = ""
    validation: str = ""
    vmin: str = ""
    vmax: str = ""
    identifier: bool = False
    required: bool = False
    branching: str = ""
    note: str = ""
    section: str = ""
    amendment: bool = False  # added to the form mid-study (see ``Project.amended``)

    def columns(self) -> list[str]:
        if self.ftype == "checkbox":
            return [f"{self.name}___{c.split(',')[0].strip().lower()}"
                    for c in self.choices.split("|")]
        return [self.name]

    def row(self, form: str) -> list[str]:
        return [self.name, form, self.section, self.ftype, self.label, self.choices, self.note,
                self.validation, self.vmin, self.vmax, "y" if self.identifier else "",
                self.branching, "y" if self.required else "", "", "", "", "", ""]


def _date(name: str, label: str, **kw: object) -> Field:
    return Field(name, "text", label, validation="date_ymd", note="YYYY-MM-DD", **kw)


# form -> (repeating, fields); record_id is the first field of the first form.
FORMS: dict[str, tuple[bool, tuple[Field, ...]]] = {
    "enrolment": (False, (
        Field("record_id", "text", "Participant ID", required=True),
        _date("dob", "Date of birth", identifier=True, section="Demographics"),
        _date("enrol_date", "Date of enrolment (consent signed)", required=True),
        Field("age", "text", "Age at enrolment (years)", validation="integer", vmin="18",
              vmax="75", required=True),
        Field("sex", "radio", "Sex", "1, Female | 2, Male", required=True),
        Field("weight_kg", "text", "Body weight (kg)", validation="number", vmin="30",
              vmax="200"),
        Field("t1d_duration_y", "text", "Duration of type 1 diabetes (years)",
              validation="integer", vmin="0", vmax="80"),
        Field("race", "checkbox", "Race (check all that apply)",
              "1, American Indian or Alaska Native | 2, Asian | 3, Black or African American | "
              "4, Native Hawaiian or Other Pacific Islander | 5, White"),
    )),
    "infusion": (False, (
        _date("infusion_date", "Date of infusion (day 0)", required=True),
        Field("study_part", "dropdown", "Study part",
              "A, Part A (half dose) | C, Part C (full dose)", required=True),
        Field("dose_fraction", "text", "Dose given (fraction of the full dose)",
              validation="number", vmin="0", vmax="1", required=True),
    )),
    "severe_hypoglycemia": (True, (
        _date("she_date", "Date of the event", required=True),
        Field("she_assist", "yesno", "Third-party assistance needed (ADA level 3)?",
              required=True),
        Field("she_glucose_mg_dl", "text", "Glucose at the event (mg/dL), if measured",
              validation="integer", vmin="10", vmax="600"),
    )),
    "insulin_diary": (True, (
        _date("diary_date", "Diary date", required=True),
        Field("basal_u", "text", "Basal insulin (U)", validation="number", vmin="0", vmax="300"),
        Field("bolus_u", "text", "Bolus insulin (U)", validation="number", vmin="0", vmax="300"),
    )),
    "adverse_events": (True, (
        Field("ae_term", "text", "Adverse event (MedDRA preferred term)", required=True),
        Field("ae_soc", "text", "MedDRA system organ class", required=True),
        _date("ae_onset_date", "Onset date", required=True),
        Field("ae_serious", "yesno", "Serious?", required=True),
        Field("ae_grade", "dropdown", "CTCAE v5 grade",
              "1, Grade 1 (mild) | 2, Grade 2 (moderate) | 3, Grade 3 (severe) | "
              "4, Grade 4 (life-threatening) | 5, Grade 5 (death)", required=True),
        Field("ae_action_taken", "radio", "Action taken with the immunosuppression",
              AE_ACTION_CHOICES, amendment=True),
        Field("ae_outcome", "radio", "Outcome",
              "1, Recovered/resolved | 2, Recovering/resolving | "
              "3, Not recovered/not resolved | 4, Fatal", required=True),
    )),
    "concomitant_medications": (True, (
        Field("cm_name", "text", "Medication", required=True),
        Field("cm_indication", "text", "Indication"),
        _date("cm_start_date", "Start date", required=True),
        _date("cm_stop_date", "Stop date"),
    )),
    "disposition": (False, (
        Field("dispo_status", "radio", "Study status",
              "1, Completed day 365 | 2, Ongoing | 3, Died | 4, Withdrew", required=True),
        _date("dispo_date", "Date of completion, death or withdrawal",
              branching='[dispo_status] <> "2"'),
        Field("death_cause", "text", "Cause of death", branching='[dispo_status] = "3"'),
    )),
}


def fputcsv_line(cells: list[str]) -> str:
    """One CSV line as PHP's fputcsv writes it (REDCap): a cell is quoted only when it holds a
    space, comma, quote, tab, backslash or line break; quotes inside are doubled."""
    out = []
    for c in cells:
        if any(ch in c for ch in ' ,"\t\\\r\n'):
            c = '"' + c.replace('"', '""') + '"'
        out.append(c)
    return ",".join(out) + "\n"


def dictionary_csv(amended: bool) -> bytes:
    """The project's data dictionary, before or after the mid-study amendment."""
    lines = [fputcsv_line(DICTIONARY_HEADER)]
    for form, (_, fields) in FORMS.items():
        lines += [fputcsv_line(f.row(form)) for f in fields if amended or not f.amendment]
    return "".join(lines).encode("utf-8")


class Project:
    """The records of one site, numbered as REDCap numbers them, ready to be exported.

    Repeat instances are numbered per record, event and form in the order the instances were
    created (entered), so an instance keeps its number in every later export. Rows are in
    REDCap's export order: record, event, then the non-repeating row before repeat instances.
    ``amended``: the day the adverse-event form gained ``ae_action_taken``; exports from that
    day on have the column, filled for what was entered or changed since.
    """

    def __init__(self, records: list[Record], amended: dt.date, dag: str) -> None:
        self.amended = amended
        self.dag = dag
        by_key: dict[tuple[str, str, str], list[Record]] = {}
        for r in records:
            if FORMS[r.form][0]:
                by_key.setdefault((r.record_id, r.event, r.form), []).append(r)
        for group in by_key.values():
            for i, r in enumerate(sorted(group, key=lambda r: (r.entered, r.order)), start=1):
                r.instance = i
        forms = list(FORMS)
        self.records = sorted(records, key=lambda r: (
            r.record_id, EVENTS.index(r.event), r.instance is not None, forms.index(r.form),
            r.instance or 0))
        self.by_form: dict[str, list[Record]] = {f: [] for f in FORMS}
        for r in self.records:
            self.by_form[r.form].append(r)
        self._lines: dict[tuple[int, int, bool, bool], str] = {}

    @staticmethod
    def fields(form: str, amended: bool, identifiers: bool) -> list[Field]:
        """The form's fields in an export (record_id stands first in every export)."""
        return [f for f in FORMS[form][1] if f.name != "record_id"
                and (identifiers or not f.identifier) and (amended or not f.amendment)]

    @staticmethod
    def version(r: Record, day: dt.date) -> int | None:
        """Index of the version an export at 06:00 UTC on ``day`` shows, None if not entered."""
        v = None
        for i, (entered, _) in enumerate(r.versions):
            if entered >= day:
                break
            v = i
        return v

    def _cells(self, r: Record, v: int, fields: list[Field]) -> list[str]:
        entered, values = r.versions[v]
        return ["" if f.amendment and entered < self.amended else values.get(c, "")
                for f in fields for c in f.columns()]

    def _line(self, r: Record, v: int, amended: bool, whole: bool) -> str:
        key = (id(r), v, amended, whole)
        if key not in self._lines:
            rep = FORMS[r.form][0]
            cells = [r.record_id, r.event, r.form if rep else "", str(r.instance) if rep else ""]
            if whole:
                cells.append(self.dag)
                for form in FORMS:
                    fields = self.fields(form, amended, identifiers=True)
                    cells += ([*self._cells(r, v, fields), "2"] if form == r.form else
                              [""] * (sum(len(f.columns()) for f in fields) + 1))
            else:
                cells += [*self._cells(r, v, self.fields(r.form, amended, False)), "2"]
            self._lines[key] = fputcsv_line(cells)
        return self._lines[key]

    def form_export(self, form: str, day: dt.date) -> bytes | None:
        """The one-form export made at 06:00 UTC on ``day`` (what was entered before that
        day), or None if the form has no record yet."""
        amended = day >= self.amended
        fields = self.fields(form, amended, identifiers=False)
        header = fputcsv_line(["record_id", "redcap_event_name", "redcap_repeat_instrument",
                               "redcap_repeat_instance", *(c for f in fields for c in f.columns()),
                               f"{form}_complete"])
        lines = [self._line(r, v, amended, False) for r in self.by_form[form]
                 if (v := self.version(r, day)) is not None]
        return (header + "".join(lines)).encode("utf-8") if lines else None

    def project_export(self, day: dt.date) -> bytes | None:
        """The whole-project export (every form, with identifiers and the data access group)
        made at 06:00 UTC on ``day``, or None if nothing was entered yet."""
        amended = day >= self.amended
        cols = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
                "redcap_repeat_instance", "redcap_data_access_group"]
        for form in FORMS:
            cols += [c for f in self.fields(form, amended, identifiers=True)
                     for c in f.columns()] + [f"{form}_complete"]
        lines = [self._line(r, v, amended, True) for r in self.records
                 if (v := self.version(r, day)) is not None]
        return (fputcsv_line(cols) + "".join(lines)).encode("utf-8") if lines else None
