"""A trial's REDCap project and the files REDCap writes from it: one-form exports, the
whole-project export, and the data dictionary.

The project is the trial's: its forms and fields (in order, with types, choices and
identifier flags) are read from the data dictionary the trial file names (``redcap.dictionary``,
beside the trial file), and each planted value is written in the field and with the choice
code the trial's field map gives for its core column (the map inverted: core column -> form,
field, code). A flag column is written as the first of its ``true_codes`` when true, and as
the first other code of its field when false (a yes/no field: 0); a checkbox flag as the boxes
checked (``<field>___<code>`` = 1, every other box 0): when true the box ``true_codes[d % n]``
(d = the event's study day, so the boxes vary from event to event) and, on odd days, also the
first box that does not mean true (the participant first tried on their own); when false the
first box that does not mean true. The generator's own fields (date of birth, race, ...) are
the plan's ``extras``; fields the plan adds mid-study (``amendment_fields``) are left out of
the dictionary and of every export made before the amendment.

What REDCap writes (``shared/reference/real/PROVENANCE.md``, section C, and the real files
beside it): CSV the way PHP's ``fputcsv`` writes it (a cell is quoted only when it holds a
space, comma, quote, tab, backslash or line break), LF line ends. A flat export starts with the
record id, then REDCap's own columns (``redcap_event_name``, ``redcap_repeat_instrument``,
``redcap_repeat_instance``, and in a whole-project export ``redcap_data_access_group``), then
each form's fields followed by its ``<form>_complete`` status; a checkbox field is one column
per choice, ``field___code``. A row is one record x event, or one instance of a repeating
form. The status is 2 (complete) where the row has the form's data (a record the plan leaves
incomplete: 0) and empty where it has not; checkbox columns are empty on rows without their form (as in C1). The dictionary is the
18-column metadata CSV with REDCap's exact download header.

One-form exports are sent "de-identified" (REDCap's export option that removes fields flagged
``Identifier?``), so they have no date-of-birth column; the whole-project export is the full
data set, with it, and the dictionary flags it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from isletflow.demo.edc_lab import REPEATING, Record
from isletflow.demo.plans import DemoPlan, plan_for
from isletflow.trial import REDCAP_COLUMNS, Trial, dictionary_path, load_trial

# REDCap's download header (PROVENANCE.md C), written here from the reference file rather than
# taken from the reader (isletflow/readers/redcap_dictionary.py): the generator plants the real
# format independently, so a reader mistake cannot hide behind a shared constant. A trial's
# dictionary must have exactly this header.
DICTIONARY_HEADER = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
    "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
    "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?",
    "Field Annotation",
]


@dataclass(frozen=True)
class Field:
    """One row of the data dictionary (``row``: its 18 cells as read)."""

    name: str
    form: str
    ftype: str
    choices: str
    identifier: bool
    amendment: bool  # added to the form mid-study (the plan's ``amendment_fields``)
    row: tuple[str, ...]

    @property
    def codes(self) -> list[str]:
        """The choice codes, in order ("1, Female | 2, Male" -> ["1", "2"]); a yes/no or
        true/false field: ["1", "0"]."""
        if self.ftype in ("yesno", "truefalse"):
            return ["1", "0"]
        return [c.split(",")[0].strip() for c in self.choices.split("|")] if self.choices else []

    def columns(self) -> list[str]:
        if self.ftype == "checkbox":
            return [f"{self.name}___{c.lower()}" for c in self.codes]
        return [self.name]


@dataclass(frozen=True)
class Dictionary:
    """The project's data dictionary: fields in order, forms in order of their first field,
    the record id (the first form's first field)."""

    fields: tuple[Field, ...]

    @classmethod
    def of(cls, trial: Trial, plan: DemoPlan) -> Dictionary:
        path = dictionary_path(trial)
        if path is None:
            raise ValueError(f"{trial.study.id}: the trial file names no REDCap dictionary "
                             "(redcap.dictionary), which the generator writes the project from")
        return cls.read(path, plan.amendment_fields)

    @classmethod
    def read(cls, path: Path, amendment_fields: tuple[str, ...] = ()) -> Dictionary:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        if rows[0] != DICTIONARY_HEADER:
            raise ValueError(f"{path.name}: not REDCap's data dictionary download header")
        return cls(tuple(Field(r[0], r[1], r[3], r[5], r[10] == "y", r[0] in amendment_fields,
                               tuple(r)) for r in rows[1:] if r))

    @property
    def forms(self) -> list[str]:
        return list(dict.fromkeys(f.form for f in self.fields))

    @property
    def record_id(self) -> str:
        return self.fields[0].name

    @property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def form_fields(self, form: str) -> list[Field]:
        return [f for f in self.fields if f.form == form]

    def csv(self, amended: bool) -> bytes:
        """The dictionary as REDCap downloads it, before or after the mid-study amendment."""
        lines = [fputcsv_line(DICTIONARY_HEADER)]
        lines += [fputcsv_line(list(f.row)) for f in self.fields if amended or not f.amendment]
        return "".join(lines).encode("utf-8")


def dictionary_csv(amended: bool, trial: Trial | None = None) -> bytes:
    """The trial's data dictionary (default: the sample trial's) as REDCap downloads it,
    before or after the mid-study amendment."""
    trial = trial or load_trial()
    return Dictionary.of(trial, plan_for(trial)).csv(amended)


def fputcsv_line(cells: list[str]) -> str:
    """One CSV line as PHP's fputcsv writes it (REDCap): a cell is quoted only when it holds a
    space, comma, quote, tab, backslash or line break; quotes inside are doubled."""
    out = []
    for c in cells:
        if any(ch in c for ch in ' ,"\t\\\r\n'):
            c = '"' + c.replace('"', '""') + '"'
        out.append(c)
    return ",".join(out) + "\n"


def _s(v: object) -> str:
    return "" if v is None else str(v)


class FieldMap:
    """The trial's field map inverted: a record's planted values (by core column, or ``@role``
    for the plan's extra fields) -> the REDCap export columns and their texts."""

    def __init__(self, trial: Trial, plan: DemoPlan, dic: Dictionary) -> None:
        self.trial, self.plan, self.dic = trial, plan, dic
        self.fields = dic.by_name
        missing = [f for f in plan.extras.values() if f not in self.fields]
        if missing:
            raise ValueError(f"{trial.study.id}: the plan's extra fields {missing} are not in "
                             "the REDCap dictionary")

    def form(self, table: str) -> str:
        return self.trial.redcap.forms[table].form

    def _boxes(self, field: Field, checked: set[str]) -> dict[str, str]:
        return {f"{field.name}___{c.lower()}": "1" if c in checked else "0"
                for c in field.codes}

    def columns(self, table: str, values: dict[str, object], day: int) -> dict[str, str]:
        """The export cells of one version of a record of ``table`` (its study ``day``)."""
        fm = self.trial.redcap.forms[table]
        out: dict[str, str] = {}
        for col, val in values.items():
            if col.startswith("@"):
                name = self.plan.extras.get(col[1:])
                if name is None:
                    continue
                field = self.fields[name]
                if col == "@ae_action":
                    val = self.plan.ae_action_codes[str(val)]
                if field.ftype == "checkbox":
                    out.update(self._boxes(field, {str(val)}))
                else:
                    out[name] = _s(val)
                continue
            if col not in fm.fields:
                continue  # an optional column this trial does not collect
            m = fm.field_map(col)
            kind = REDCAP_COLUMNS[table][col][0]
            field = self.fields[m.name]
            if kind == "choice":
                code = {label: code for code, label in (m.choices or {}).items()}
                out[m.name] = code[val] if val not in ("", None) else ""
            elif kind == "flag" and m.checkbox:
                true = m.true_codes or []
                other = [c for c in field.codes if c not in true]
                if val:
                    checked = {true[day % len(true)]} | ({other[0]} if other and day % 2 else set())
                else:
                    checked = {other[0]}
                out.update(self._boxes(field, checked))
            elif kind == "flag":
                true = m.true_codes or []
                out[m.name] = "" if val in ("", None) else true[0] if val else next(
                    c for c in field.codes if c not in true)
            else:
                out[m.name] = _s(val)
        return out


class Events:
    """The REDCap event of each record, and the events' order in an export.

    "screening": the first visit's event; "infusion": the event of the visit whose window
    holds the infusion day; "end": the last visit's event; "follow_up": the plan's
    ``follow_up_event`` if it has one (placed after the infusion's), else the event of the
    first visit whose window ends on or after the record's study day (the visit at which it
    is collected; the last visit's for anything later).
    """

    def __init__(self, trial: Trial, plan: DemoPlan) -> None:
        visits = sorted((v for v in trial.visits if v.redcap_event), key=lambda v: v.day)
        if not visits:
            raise ValueError(f"{trial.study.id}: no visit names a REDCap event")
        self.visits = visits
        self.follow_up = plan.follow_up_event
        infusion = next(v for v in visits if v.window[0] <= trial.infusion_day <= v.window[1])
        self.infusion = infusion.redcap_event
        order = [v.redcap_event for v in visits]
        if self.follow_up:
            order.insert(order.index(self.infusion) + 1, self.follow_up)
        self.order = {e: i for i, e in enumerate(order)}

    def of(self, r: Record) -> str:
        if r.event == "screening":
            return self.visits[0].redcap_event
        if r.event == "infusion":
            return self.infusion
        if r.event == "end":
            return self.visits[-1].redcap_event
        if self.follow_up:
            return self.follow_up
        return next((v.redcap_event for v in self.visits if v.window[1] >= r.day),
                    self.visits[-1].redcap_event)


class Project:
    """The records of one site, numbered as REDCap numbers them, ready to be exported.

    Repeat instances are numbered per record, event and form in the order the instances were
    created (entered), so an instance keeps its number in every later export. Rows are in
    REDCap's export order: record, event, then the non-repeating row before repeat instances.
    ``amended``: the day the plan's amendment fields were added; exports from that day on have
    them, filled for what was entered or changed since.
    """

    def __init__(self, records: list[Record], amended: dt.date, dag: str, fmap: FieldMap,
                 events: Events) -> None:
        self.amended, self.dag, self.fmap, self.dic = amended, dag, fmap, fmap.dic
        self.event = {id(r): events.of(r) for r in records}
        by_key: dict[tuple[str, str, str], list[Record]] = {}
        for r in records:
            if r.table in REPEATING:
                by_key.setdefault((r.record_id, self.event[id(r)], r.table), []).append(r)
        for group in by_key.values():
            for i, r in enumerate(sorted(group, key=lambda r: (r.entered, r.order)), start=1):
                r.instance = i
        forms = self.dic.forms
        self.records = sorted(records, key=lambda r: (
            r.record_id, events.order[self.event[id(r)]], r.instance is not None,
            forms.index(fmap.form(r.table)), r.instance or 0))
        self.by_form: dict[str, list[Record]] = {f: [] for f in forms}
        for r in self.records:
            self.by_form[fmap.form(r.table)].append(r)
        self._lines: dict[tuple[int, int, bool, bool], str] = {}

    def fields(self, form: str, amended: bool, identifiers: bool) -> list[Field]:
        """The form's fields in an export (the record id stands first in every export)."""
        return [f for f in self.dic.form_fields(form) if f.name != self.dic.record_id
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
        cols = self.fmap.columns(r.table, values, r.day)
        return ["" if f.amendment and entered < self.amended else cols.get(c, "")
                for f in fields for c in f.columns()]

    def _line(self, r: Record, v: int, amended: bool, whole: bool) -> str:
        key = (id(r), v, amended, whole)
        if key not in self._lines:
            rep = r.table in REPEATING
            form = self.fmap.form(r.table)
            cells = [r.record_id, self.event[id(r)], form if rep else "",
                     str(r.instance) if rep else ""]
            if whole:
                cells.append(self.dag)
                for other in self.dic.forms:
                    fields = self.fields(other, amended, identifiers=True)
                    cells += ([*self._cells(r, v, fields), r.status] if other == form else
                              [""] * (sum(len(f.columns()) for f in fields) + 1))
            else:
                cells += [*self._cells(r, v, self.fields(form, amended, False)), r.status]
            self._lines[key] = fputcsv_line(cells)
        return self._lines[key]

    def form_export(self, form: str, day: dt.date) -> bytes | None:
        """The one-form export made at 06:00 UTC on ``day`` (what was entered before that
        day), or None if the form has no record yet."""
        amended = day >= self.amended
        fields = self.fields(form, amended, identifiers=False)
        header = fputcsv_line([self.dic.record_id, "redcap_event_name",
                               "redcap_repeat_instrument", "redcap_repeat_instance",
                               *(c for f in fields for c in f.columns()), f"{form}_complete"])
        lines = [self._line(r, v, amended, False) for r in self.by_form[form]
                 if (v := self.version(r, day)) is not None]
        return (header + "".join(lines)).encode("utf-8") if lines else None

    def project_export(self, day: dt.date) -> bytes | None:
        """The whole-project export (every form, with identifiers and the data access group)
        made at 06:00 UTC on ``day``, or None if nothing was entered yet."""
        amended = day >= self.amended
        cols = [self.dic.record_id, "redcap_event_name", "redcap_repeat_instrument",
                "redcap_repeat_instance", "redcap_data_access_group"]
        for form in self.dic.forms:
            cols += [c for f in self.fields(form, amended, identifiers=True)
                     for c in f.columns()] + [f"{form}_complete"]
        lines = [self._line(r, v, amended, True) for r in self.records
                 if (v := self.version(r, day)) is not None]
        return (fputcsv_line(cols) + "".join(lines)).encode("utf-8") if lines else None
