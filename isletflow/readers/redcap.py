"""REDCap flat CSV export reader: whole-project or one-form exports, split into forms and
unpivoted to long rows, one per record x event x repeat instrument x instance x form x field.

What REDCap writes (its "Export data" page and its API, ``content=record``, flat, raw codes;
PROVENANCE.md section C):

* column 1 is the record id (named as the project's first field: ``record_id``, ``study_id``,
  ...); then REDCap's own ``redcap_*`` columns, those that apply to the project:
  ``redcap_event_name`` (longitudinal), ``redcap_repeat_instrument`` and
  ``redcap_repeat_instance`` (repeating instruments or events), ``redcap_data_access_group``;
* then each form (instrument) in project order: its fields, then its status column
  ``<form>_complete`` (0 incomplete, 1 unverified, 2 complete). This is the **position
  rule**: a field belongs to the form whose ``_complete`` column comes next after it. The
  record id is the first form's first field; it is kept in the ``record_id`` column of
  every row, never as a field row;
* a checkbox field is one column per choice, ``field___code`` (code lower-cased);
* a row is one record x event (x repeat instance). A repeat-instrument row (its
  ``redcap_repeat_instrument`` filled) carries only that instrument; on the other rows every
  form of the project has its columns, empty where the form is not used in that event.

**A form has data in a row** (and the row yields that form's fields) when it is the row's repeat
instrument; or, on a row without a repeat instrument, when one of its fields is filled (a
checkbox column counts when it is ``1``: REDCap writes ``0`` for every unchecked box of a form
it has a row for) or its status is ``1`` or ``2`` (a form saved as unverified or complete
with no field filled, as in C1 ``contact_info``). A status ``0`` with nothing filled is how
REDCap writes a form nobody entered (C4: every unused form of a record shows ``0``), and an
empty status is a form not designated to that event (C1). Every field of a form with data
gives one long row, empty values included.

With the project's data dictionary (``RedcapDictionary``) the dictionary assigns fields to
forms (overriding the position rule), decodes choice codes (``value_label``), and types and
checks each value by its validation (``value_type``, ``value_typed``); a value that does not
fit its validation, range or choices is a row problem, never an error.

A column named ``<x>_complete`` is a form status only if every value in it is a status (empty,
0, 1 or 2; ``_layout``): REDCap writes nothing else there, so one with a date, a word or a 3
in it is a data field that merely ends in ``_complete``, and it keeps its place in its form.

Personal data never leaves this reader (see ``personal_data_reason``): columns are dropped by
the dictionary's ``Identifier?`` flag and field types, by name (``PERSONAL_NAMES``, ...), and
by values that look like e-mail addresses or phone numbers. Without a dictionary a free-text
field is only known by its name; so the nightly reads an export with the trial's fields
(``trial_fields``, the trial file's ``Trial.redcap_fields``): every other field is dropped by name, its
values never read into a row, and the file gets one warning that names them
(``redcap_fields_not_collected``); a trial field that the layout puts in another form than the
trial's is not loaded either, with a file-level error (``redcap_field_in_wrong_form``: the
export lacks that form's ``_complete`` column). A value problem shows a value that is not a
plain number or date by its shape only, in ``raw.redcap`` too (``PLAIN_VALUE_RE``,
``text.shape``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from isletflow.readers.redcap_dictionary import RedcapDictionary, is_redcap_dictionary
from isletflow.readers.text import (ExportLayoutError, RowProblem, decode_export, head_lines,
                                    read_csv_text, shape)

# REDCap's own columns that are kept (the rest of ``redcap_*``, e.g. the survey identifier,
# which can hold a participant's name or e-mail, is dropped).
SYSTEM_COLUMNS = ["redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                  "redcap_data_access_group"]
ID_COLUMNS = ["record_id", *SYSTEM_COLUMNS]
RAW_COLUMNS = ["row_number", "form", *ID_COLUMNS, "form_complete", "field", "value",
               "value_label", "value_type", "value_typed"]
STATUS_SUFFIX = "_complete"
STATUS_VALUES = ("0", "1", "2")  # incomplete, unverified, complete (empty: not in the event)
NOT_COLLECTED = "not a field the trial collects"
LOOKS_PERSONAL = "values look like e-mail addresses or phone numbers"  # _looks_personal
# A value a value problem shows as exported: a plain number (at most 6 digits before its
# decimal point: longer digit strings may be record or phone numbers), or a date, time or
# date-time written with digits and separators only. Any other value is shown by its shape.
PLAIN_VALUE_RE = (r"^[-+]?([0-9]{1,6}([.,][0-9]*)?|[.,][0-9]+)([eE][-+]?[0-9]+)?$"
                  r"|^[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}"
                  r"([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)?$"
                  r"|^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$")
SHOWN_CHARS = 40  # a shown value (or shape) is cut after this many characters

# Personal data dropped by name, with or without a dictionary (``Identifier?`` flags in the
# dictionary come on top). Matched on the field name (a checkbox column's field part),
# lower case: exact names, name prefixes, name parts anywhere, and name endings. Names as
# REDCap projects, CDASH (BRTHDAT, BRTHDTC: birth date collected / ISO 8601) and UK and US
# hospital systems write them. Free text is caught by name only here (comment, notes, ...);
# with a dictionary also by its field type; the nightly keeps the trial's fields only.
PERSONAL_NAMES = frozenset({
    "name", "first_name", "last_name", "middle_name", "full_name", "surname", "given_name",
    "family_name", "maiden_name", "patient_name", "participant_name", "subject_name", "fname",
    "lname", "firstname", "lastname", "middlename", "fullname", "givenname", "familyname",
    "pt_name", "pat_name", "subj_name", "name_first", "name_last", "name_middle", "name_full",
    "initials", "dob", "date_of_birth", "birth_date", "birthdate", "birthday", "birth_dt",
    "dateofbirth", "ssn", "social_security_number", "mrn", "medical_record_number",
    "hospital_number", "hospital_no", "hosp_no", "nhs_number", "nhs_no", "nhsno", "chi_number",
    "health_card_number", "insurance_number", "zip", "postcode", "comment", "comments", "note",
    "notes", "remark", "remarks", "free_text", "freetext",
})
PERSONAL_PREFIXES = ("telephone", "phone", "mobile", "cellphone", "cell_phone", "fax", "email",
                     "e_mail", "address", "street", "dob_", "brth", "comment")
PERSONAL_PARTS = ("phone", "email", "e_mail", "address", "zipcode", "zip_code", "postal_code",
                  "postcode", "dateofbirth", "date_of_birth", "brthdat", "brthdtc",
                  "hospital_number", "nhs_number", "nhs_no")
PERSONAL_SUFFIXES = ("_first_name", "_last_name", "_full_name", "_contact_name", "_surname",
                     "_firstname", "_lastname", "_fullname", "_initials", "_dob", "_comment",
                     "_comments", "_note", "_notes", "_remarks", "_free_text")
# Validations whose values are contact details, and field types that hold free text or files.
PERSONAL_VALIDATIONS = ("email", "phone", "phone_australia", "phone_uk", "postalcode_french",
                        "postalcode_australia", "postalcode_canada", "postalcode_germany",
                        "postalcode_uk", "zipcode", "ssn", "mrn_10d", "mrn_generic")
PERSONAL_FIELD_TYPES = {"notes": "free-text notes field", "file": "file upload field"}
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
PHONE_RE = (r"^(\+\d{1,3}[\s.-]?)?\(\d{2,4}\)\s?\d{3,4}[\s.-]?\d{3,4}$"   # (415) 555-1212
            r"|^\d{3}[.-]\d{3}[.-]\d{4}$"                                  # 415-555-1212
            r"|^\+\d{1,3}[\s.-]?\d[\d\s.-]{6,}\d$")                        # +44 20 7946 0958

# How each REDCap validation is exported, checked and typed. REDCap exports every date and
# datetime as Y-M-D whatever the validation's display order (date_dmy values are still
# 2023-02-24, PROVENANCE.md C4), and comma-decimal numbers with their comma ("36,5").
# kind -> (value_type, regular expression of the exported text)
_DP = {f"number_{n}dp": n for n in range(1, 5)}
VALIDATION_KIND = {
    **{f"date_{o}": "date" for o in ("ymd", "mdy", "dmy")},
    **{f"datetime_{o}": "datetime_hm" for o in ("ymd", "mdy", "dmy")},
    **{f"datetime_seconds_{o}": "datetime_hms" for o in ("ymd", "mdy", "dmy")},
    "time": "time_hm", "time_hh_mm_ss": "time_hms", "time_mm_ss": "time_ms",
    "integer": "integer", "number": "number", "number_comma_decimal": "number_comma",
    **{k: f"number_{n}dp" for k, n in _DP.items()},
    **{f"{k}_comma_decimal": f"number_{n}dp_comma" for k, n in _DP.items()},
}
KIND_PATTERN = {
    "date": r"^\d{4}-\d{2}-\d{2}$", "datetime_hm": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$",
    "datetime_hms": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", "time_hm": r"^\d{2}:\d{2}$",
    "time_hms": r"^\d{2}:\d{2}:\d{2}$", "time_ms": r"^[0-5]\d:[0-5]\d$",
    "integer": r"^[-+]?\d+$",
    "number": r"^[-+]?\d*\.?\d+([eE][-+]?\d+)?$",   # REDCap's own 'number' pattern
    "number_comma": r"^[-+]?\d*,?\d+$",
    **{f"number_{n}dp": rf"^[-+]?\d+\.\d{{{n}}}$" for n in range(1, 5)},
    **{f"number_{n}dp_comma": rf"^[-+]?\d+,\d{{{n}}}$" for n in range(1, 5)},
    "slider": r"^[-+]?\d+$", "calc": r"^[-+]?\d*\.?\d+([eE][-+]?\d+)?$",
}
KIND_TYPE = {"date": "date", "datetime_hm": "datetime", "datetime_hms": "datetime",
             "time_hm": "time", "time_hms": "time", "time_ms": "time", "integer": "integer",
             "slider": "integer", "calc": "number"}
KIND_TEXT = {"date": "a date YYYY-MM-DD", "datetime_hm": "a date-time YYYY-MM-DD HH:MM",
             "datetime_hms": "a date-time YYYY-MM-DD HH:MM:SS", "time_hm": "a time HH:MM",
             "time_hms": "a time HH:MM:SS", "time_ms": "a time MM:SS",
             "integer": "an integer", "slider": "a whole number (slider)",
             "number": "a number", "number_comma": "a number with a decimal comma"}


@dataclass(frozen=True)
class RedcapExport:
    """A REDCap export as read: its long rows and what its layout holds (names, never values)."""

    rows: pl.DataFrame                    # RAW_COLUMNS, in file order
    problems: list[RowProblem]
    n_rows: int                           # data rows (blank lines not counted)
    record_id_column: str
    records: int                          # distinct record ids
    events: tuple[str, ...]               # distinct redcap_event_name, in file order
    repeat_instruments: dict[str, tuple[int, int]]  # instrument -> (rows, distinct instances)
    forms: dict[str, int]                 # form -> rows in which it has data (all _complete forms)
    checkbox_fields: dict[str, tuple[str, ...]]     # checkbox field -> its columns
    dropped: dict[str, str]               # dropped column (personal data, ...) -> why
    data_access_groups: tuple[str, ...]
    dictionary: str | None                # the dictionary file used, if any


def header_cells(line: str) -> list[str]:
    """The cells of a comma-separated header line."""
    try:
        return [c.strip() for c in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return []


def is_redcap_header(cells: list[str]) -> bool:
    """A REDCap flat export's header, by its structure (not by the name of column 1): at least
    one ``<form>_complete`` column, and either REDCap's own columns (``redcap_event_name``,
    ``redcap_repeat_instrument``, ``redcap_data_access_group``, ...) right after the record id,
    or a ``<form>_complete`` column last (a classic project without repeats or groups)."""
    if len(cells) < 2 or not cells[0] or cells[0].startswith("redcap_"):
        return False
    if not any(c.endswith(STATUS_SUFFIX) and len(c) > len(STATUS_SUFFIX) for c in cells[1:]):
        return False
    return any(c.startswith("redcap_") for c in cells[1:6]) or cells[-1].endswith(STATUS_SUFFIX)


def personal_data_reason(column: str, spec=None) -> str | None:
    """Why export column ``column`` is personal data and must be dropped, or None.

    With its dictionary field ``spec``: flagged ``Identifier? = y``; a free-text ``notes`` or
    ``file`` field; a contact-detail validation (``PERSONAL_VALIDATIONS``: e-mail, phone,
    postal code, ...). Always, by the field's name: ``PERSONAL_NAMES`` (exact),
    ``PERSONAL_PREFIXES``, ``PERSONAL_PARTS`` (anywhere in the name), ``PERSONAL_SUFFIXES``.
    """
    if spec is not None:
        if spec.identifier:
            return "identifier in the dictionary"
        if spec.field_type in PERSONAL_FIELD_TYPES:
            return PERSONAL_FIELD_TYPES[spec.field_type]
        if spec.validation in PERSONAL_VALIDATIONS:
            return f"{spec.validation} field"
    name = column.lower().split("___")[0]
    if (name in PERSONAL_NAMES or name.startswith(PERSONAL_PREFIXES)
            or any(p in name for p in PERSONAL_PARTS) or name.endswith(PERSONAL_SUFFIXES)):
        return "personal-data field name"
    return None


def read_redcap(path: Path, dictionary: Path | RedcapDictionary | None = None,
                trial_fields: Mapping[str, Sequence[str]] | None = None
                ) -> tuple[pl.DataFrame, list[RowProblem]]:
    """A REDCap flat export as long text rows (``RAW_COLUMNS``) and its row problems; see
    ``read_redcap_export``."""
    r = read_redcap_export(path, dictionary, trial_fields)
    return r.rows, r.problems


def read_redcap_export(path: Path, dictionary: Path | RedcapDictionary | None = None,
                       trial_fields: Mapping[str, Sequence[str]] | None = None
                       ) -> RedcapExport:
    """Read a REDCap flat export, split it into forms and unpivot it (module docstring).

    ``dictionary``: the project's data dictionary (a path or a loaded one). Fields it does
    not know keep the position rule and stay untyped (``value_type`` null).
    ``trial_fields``: form -> the fields to keep (the nightly passes
    the trial file's ``Trial.redcap_fields``); every other field is dropped (``_layout``), and the file's
    problems say so once (``_trial_problems``, ``row_number`` None). None (``inspect``):
    every field that is not personal data is kept.
    """
    dic = RedcapDictionary.from_file(dictionary) if isinstance(dictionary, Path) else dictionary
    data, _ = decode_export(path)
    df, problems = read_csv_text(data, ",")
    columns = df.columns[1:]
    if not is_redcap_header(columns):
        raise ExportLayoutError(f"{path.name}: not a REDCap flat export (no '<form>_complete' "
                                "column after the record id)")
    rid = columns[0]
    df = df.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in columns)
    df = df.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in columns))  # blank lines
    no_id = df.filter(pl.col(rid).is_null())
    problems += [RowProblem(r, "redcap_missing_record_id", None,
                            f"the record id ({rid}) is empty; the row is not loaded")
                 for r in no_id["row_number"]]
    df = df.filter(pl.col(rid).is_not_null())
    form_of, status_of, dropped, misplaced = _layout(path, columns, dic, df, trial_fields)
    for c in _looks_personal(df, [c for c in form_of if c not in dropped]):
        dropped[c] = LOOKS_PERSONAL
    if trial_fields is not None and df.height:  # a header-only export drops no value
        problems += _trial_problems(dropped, misplaced, dic, trial_fields)
    df = df.rename({rid: "record_id"}).with_columns(
        pl.lit(None, pl.String).alias(c) for c in SYSTEM_COLUMNS if c not in columns)
    repeat = pl.col("redcap_repeat_instrument")
    parts = []
    forms: dict[str, int] = {}
    for i, form in enumerate(status_of):
        cols = [c for c in form_of if form_of[c] == form]
        status = status_of[form]
        filled = [(pl.col(c) == "1") if "___" in c else pl.col(c).is_not_null() for c in cols]
        if status:
            filled.append(pl.col(status).is_in(["1", "2"]))
        has_data = pl.when(repeat.is_not_null()).then(repeat == form).otherwise(
            pl.any_horizontal(filled) if filled else pl.lit(False))
        rows = df.filter(has_data)
        forms[form] = rows.height
        kept = [c for c in cols if c not in dropped]
        if not kept or rows.height == 0:
            continue
        parts.append(rows.select(
            "row_number", *ID_COLUMNS,
            form_complete=pl.col(status) if status else pl.lit(None, pl.String), *kept,
        ).unpivot(index=["row_number", *ID_COLUMNS, "form_complete"], on=kept,
                  variable_name="field", value_name="value").with_columns(
            form=pl.lit(form), _form=pl.lit(i),
            _field=pl.col("field").replace_strict(kept, list(range(len(kept))),
                                                  return_dtype=pl.Int64)))
    unknown = df.filter(repeat.is_not_null() & ~repeat.is_in(list(status_of)))
    problems += [RowProblem(r, "redcap_unknown_repeat_instrument", v,
                            f"repeat instrument {v!r} is not a form of this export")
                 for r, v in unknown.select("row_number", "redcap_repeat_instrument").iter_rows()]
    empty = pl.DataFrame(schema={c: pl.Int64 if c == "row_number" else pl.String
                                 for c in RAW_COLUMNS if c not in ("value_label", "value_type",
                                                                   "value_typed")})
    long = (pl.concat(parts, how="diagonal") if parts else empty.with_columns(
        _form=pl.lit(0), _field=pl.lit(0))).sort("row_number", "_form", "_field")
    long, typing_problems = _type_values(long, dic)
    reps = df.filter(repeat.is_not_null()).group_by("redcap_repeat_instrument",
                                                    maintain_order=True).agg(
        pl.len(), pl.col("redcap_repeat_instance").n_unique())
    checkbox: dict[str, list[str]] = {}
    for c in columns:
        if "___" in c and c not in dropped:
            checkbox.setdefault(c.rpartition("___")[0], []).append(c)
    return RedcapExport(
        rows=long.select(RAW_COLUMNS), problems=problems + typing_problems, n_rows=df.height,
        record_id_column=rid, records=df["record_id"].n_unique(),
        events=tuple(df["redcap_event_name"].drop_nulls().unique(maintain_order=True)),
        repeat_instruments={k: (n, u) for k, n, u in reps.iter_rows()},
        forms=forms, checkbox_fields={k: tuple(v) for k, v in checkbox.items()},
        dropped=dropped,
        data_access_groups=tuple(df["redcap_data_access_group"].drop_nulls()
                                 .unique(maintain_order=True)),
        dictionary=dic.source if dic else None)


def _layout(path: Path, columns: list[str], dic: RedcapDictionary | None, df: pl.DataFrame,
            trial_fields: Mapping[str, Sequence[str]] | None = None
            ) -> tuple[dict[str, str], dict[str, str | None], dict[str, str],
                       dict[str, tuple[str, str]]]:
    """Each data column's form, each form's status column (forms in export order), the
    columns to drop with the reason, and the trial fields read in another form.

    Status columns: ``<form>_complete`` of a dictionary form; else (without a dictionary, or a
    column the dictionary does not know) a column ending in ``_complete`` whose values in
    ``df`` are all statuses (``STATUS_VALUES`` or empty): REDCap writes nothing else in a form
    status, so a ``..._complete`` column with any other value is a data field. Data columns
    are the rest after the record id, except REDCap's own ``redcap_*`` columns. The position
    rule gives each data column a form; the dictionary's form, where it knows the field, wins.

    With ``trial_fields`` (form -> fields): a data column that is neither a trial field nor a
    checkbox column ``<field>___<code>`` of one is dropped (``NOT_COLLECTED``); a trial field
    whose form (by position or dictionary) is not the trial's form of it is dropped, taken out
    of its form, and returned in ``misplaced`` (column -> (form read, form expected)).
    """
    rid = columns[0]
    dic_forms = set(dic.forms) if dic else set()
    named = [c for c in columns[1:] if c.endswith(STATUS_SUFFIX) and not c.startswith("redcap_")]
    other = df.select((pl.col(c).is_not_null() & ~pl.col(c).is_in(STATUS_VALUES)).any()
                      for c in named).row(0) if named else ()
    not_status = {c for c, o in zip(named, other, strict=True) if o}

    def is_status(c: str) -> bool:
        if not c.endswith(STATUS_SUFFIX):
            return False
        if c.removesuffix(STATUS_SUFFIX) in dic_forms:
            return True
        return (dic is None or dic.field_of_column(c) is None) and c not in not_status

    form_of: dict[str, str] = {}
    status_of: dict[str, str | None] = {}
    dropped: dict[str, str] = {}
    pending: list[str] = []
    for c in columns[1:]:
        if c.startswith("redcap_"):
            if c not in SYSTEM_COLUMNS:
                dropped[c] = "REDCap survey or system column"
            continue
        if is_status(c):
            form = c.removesuffix(STATUS_SUFFIX)
            status_of[form] = c
            form_of.update(dict.fromkeys(pending, form))
            pending = []
        else:
            pending.append(c)
    for c in [*form_of, *pending]:
        spec = dic.field_of_column(c) if dic else None
        if spec is not None:
            form_of[c] = spec.form
            status_of.setdefault(spec.form, None)
        reason = personal_data_reason(c, spec)
        if reason:
            dropped[c] = reason
    trailing = [c for c in pending if c not in form_of]
    if trailing:
        raise ExportLayoutError(f"{path.name}: REDCap column(s) {trailing[:5]} stand after the "
                                "last '<form>_complete' column; their form is unknown")
    if personal_data_reason(rid) and rid not in dropped:
        raise ExportLayoutError(f"{path.name}: the record id column {rid!r} is named like "
                                "personal data; export the study's record id instead")
    misplaced: dict[str, tuple[str, str]] = {}
    if trial_fields is not None:
        expected = {f: form for form, fields in trial_fields.items() for f in fields}
        for c in list(form_of):
            want = expected.get(c) or expected.get(c.rpartition("___")[0])
            if c in dropped:
                continue
            if want is None:
                dropped[c] = NOT_COLLECTED
            elif form_of[c] != want:
                misplaced[c] = (form_of.pop(c), want)
                dropped[c] = f"a field of form {want} read as form {misplaced[c][0]}"
    dropped = {c: dropped[c] for c in columns if c in dropped}  # in header order
    return form_of, status_of, dropped, misplaced


# Why a trial field was dropped as personal data (``personal_data_reason``, ``_looks_personal``)
# -> what the site should change so that the trial gets it.
_DROPPED_TRIAL_FIELD = {
    "identifier in the dictionary": (
        "is flagged as an identifier (Identifier? = y) in the site's data dictionary",
        "unflag it"),
    PERSONAL_FIELD_TYPES["notes"]: (
        "is a free-text notes field in the site's data dictionary",
        "make it a text field (free text is never loaded)"),
    PERSONAL_FIELD_TYPES["file"]: (
        "is a file upload field in the site's data dictionary", "make it the trial's field type"),
    LOOKS_PERSONAL: (
        "has a value that looks like an e-mail address or a phone number",
        "correct the value (contact details are never loaded)"),
}


def _trial_problems(dropped: dict[str, str], misplaced: dict[str, tuple[str, str]],
                    dic: RedcapDictionary | None,
                    trial_fields: Mapping[str, Sequence[str]]) -> list[RowProblem]:
    """The file-level problems (``row_number`` None) of an export read with the trial's fields,
    names only, never values:

    * ``redcap_field_in_wrong_form`` (an error: those fields are not loaded), one per form
      read and form expected: the trial's fields that the position rule put in the form
      whose ``_complete`` column comes next (the export lacks their own form's status column),
      or that the site's data dictionary puts in another form;
    * ``redcap_trial_field_dropped`` (a warning: its rows are loaded without it, e.g. a
      medication without its stop date looks ongoing), one per trial field (a checkbox field
      named once) dropped as personal data: flagged ``Identifier?`` or a notes or file field
      in the site's dictionary, a contact-detail validation, or a value that looks like an
      e-mail address or phone number (``_DROPPED_TRIAL_FIELD``: the reason and what to ask);
    * ``redcap_fields_not_collected`` (info: nothing to ask the site), one for the file: the
      other fields not loaded, which the trial does not collect (some as personal data too;
      a checkbox field named once; REDCap's own ``redcap_*`` columns aside).
    """
    problems = []
    groups: dict[tuple[str, str, bool], list[str]] = {}
    for c, (landed, want) in misplaced.items():
        by_dic = dic is not None and dic.field_of_column(c) is not None
        groups.setdefault((landed, want, by_dic), []).append(c)
    for (landed, want, by_dic), cols in groups.items():
        names = ", ".join(cols)
        if by_dic:
            why = (f"the data dictionary {dic.source} puts the trial's {want} field(s) "
                   f"{names} in form {landed}; the trial reads them from form {want}")
        else:
            why = (f"the trial's {want} field(s) {names} stand before {landed}_complete, so "
                   f"they were read as form {landed}: the export lacks {want}_complete? "
                   "Export with the form status columns")
        problems.append(RowProblem(None, "redcap_field_in_wrong_form", None,
                                   f"{why}; these fields are not loaded"))
    wanted = {f for fields in trial_fields.values() for f in fields}
    base = {c: c.rpartition("___")[0] if "___" in c else c for c in dropped}
    named: dict[str, str] = {}
    for c, why in dropped.items():
        if c not in misplaced and why != NOT_COLLECTED and base[c] in wanted:
            named.setdefault(base[c], why)  # a checkbox field's choice columns: named once
    for field, why in named.items():
        what, ask = _DROPPED_TRIAL_FIELD.get(why, (f"is dropped as personal data ({why})",
                                                   "change it so that it holds none"))
        problems.append(RowProblem(
            None, "redcap_trial_field_dropped", None,
            f"the trial's field {field} {what}, so it was not loaded, its values not stored; "
            f"the trial needs it: ask the site to {ask}", field))
    fields = list(dict.fromkeys(base[c] for c in dropped
                                if c not in misplaced and not c.startswith("redcap_")
                                and (base[c] not in wanted or dropped[c] == NOT_COLLECTED)))
    if fields:
        shown = ", ".join(fields[:20]) + (f" and {len(fields) - 20} more" if len(fields) > 20
                                          else "")
        problems.append(RowProblem(
            None, "redcap_fields_not_collected", None,
            f"{len(fields)} field(s) the trial does not collect (or personal data) were not "
            f"loaded, their values not stored: {shown}"))
    return problems


def _looks_personal(df: pl.DataFrame, columns: list[str]) -> list[str]:
    """Columns (checkbox columns aside) with a value that looks like an e-mail address or a
    phone number (``EMAIL_RE``, ``PHONE_RE``): personal data whatever the field's name."""
    cols = [c for c in columns if "___" not in c]
    if not cols or df.height == 0:
        return []
    hit = df.select(pl.col(c).str.contains(EMAIL_RE).any() | pl.col(c).str.contains(PHONE_RE)
                    .any() for c in cols).row(0)
    return [c for c, h in zip(cols, hit, strict=True) if h]


def _field_meta(fields: list[str], dic: RedcapDictionary | None) -> pl.DataFrame:
    """Per export column: its kind (how to check and type it), value type, pattern, range,
    and for a checkbox column its choice label."""
    rows = []
    for c in fields:
        spec = dic.field_of_column(c) if dic else None
        if spec is None:
            continue
        kind = label = None
        lo = hi = None
        if spec.field_type == "checkbox":
            kind, label = "checkbox", spec.choices[dic.checkbox_code(spec, c.rpartition("___")[2])]
        elif spec.field_type in ("radio", "dropdown", "yesno", "truefalse", "sql"):
            kind = "choice"
        elif spec.field_type == "slider":
            kind, lo, hi = "slider", spec.validation_min or "0", spec.validation_max or "100"
        elif spec.field_type == "calc":
            kind = "calc"
        elif spec.field_type == "text" and spec.validation in VALIDATION_KIND:
            kind, lo, hi = (VALIDATION_KIND[spec.validation], spec.validation_min,
                            spec.validation_max)
        vtype = ("choice" if kind == "choice" else "checkbox" if kind == "checkbox"
                 else KIND_TYPE.get(kind or "", "number" if kind else "text"))
        rows.append({"field": c, "_kind": kind or "text", "value_type": vtype,
                     "_pattern": KIND_PATTERN.get(kind or ""), "_checkbox_label": label,
                     "_validation": spec.validation or spec.field_type,
                     "_min": _bound(kind, lo), "_max": _bound(kind, hi)})
    return pl.DataFrame(rows, schema={"field": pl.String, "_kind": pl.String,
                                      "value_type": pl.String, "_pattern": pl.String,
                                      "_checkbox_label": pl.String, "_validation": pl.String,
                                      "_min": pl.String, "_max": pl.String})


def _bound(kind: str | None, text: str | None) -> str | None:
    """A validation min/max in the form its typed values take (numbers with a '.' decimal,
    ISO dates); None when there is none or it is not a constant (``today``, ``[field]``)."""
    if not kind or not text:
        return None
    t = text.strip()
    if kind.startswith(("number", "integer", "slider")):
        t = t.replace(",", ".")
        return t if re.fullmatch(r"[-+]?\d*\.?\d+", t) else None
    if kind.startswith(("date", "datetime", "time")):
        return t if re.fullmatch(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?|\d{2}:\d{2}(:\d{2})?",
                                 t) else None
    return None


def _typed(v: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """The value in a form DuckDB casts directly (ISO date, ``YYYY-MM-DD HH:MM:SS``,
    ``HH:MM:SS``, numbers with a '.' decimal), or null when it does not parse."""
    number = v.str.replace(",", ".").str.strip_prefix("+")
    return (pl.when(kind == "date").then(v.str.to_date("%Y-%m-%d", strict=False)
                                         .dt.strftime("%Y-%m-%d"))
            .when(kind == "datetime_hm").then(v.str.to_datetime("%Y-%m-%d %H:%M", strict=False)
                                              .dt.strftime("%Y-%m-%d %H:%M:%S"))
            .when(kind == "datetime_hms").then(v.str.to_datetime("%Y-%m-%d %H:%M:%S",
                                                                 strict=False)
                                               .dt.strftime("%Y-%m-%d %H:%M:%S"))
            .when(kind == "time_hm").then(v.str.to_time("%H:%M", strict=False)
                                          .dt.strftime("%H:%M:%S"))
            .when(kind == "time_hms").then(v.str.to_time("%H:%M:%S", strict=False)
                                           .dt.strftime("%H:%M:%S"))
            .when(kind == "time_ms").then(pl.lit("00:") + v)
            .otherwise(number))


def _type_values(long: pl.DataFrame, dic: RedcapDictionary | None
                 ) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Add ``value_label`` (choice label), ``value_type`` and ``value_typed`` from the
    dictionary, and the row problems of values that do not fit it:

    * ``redcap_invalid_value``: not in the form its validation exports (``KIND_PATTERN``,
      e.g. ``number_1dp_comma_decimal`` is ``36,5``), not a real date, or a checkbox cell
      other than 0/1; its ``value_typed`` is null;
    * ``redcap_out_of_range``: outside the validation's min/max (a slider's range);
    * ``redcap_unknown_choice``: a code the field's choice list does not have.

    ``value_type``: date, datetime, time, integer, number, choice, checkbox or text; null for
    a field the dictionary does not have (or with no dictionary). ``value_typed``: see
    ``_typed``; the code for a choice, 0/1 for a checkbox, the text for text. Spaces around
    a value are not part of it (C4 has ``" -100"`` in a number field).
    Calculated fields are typed as numbers when they are, without a problem when not.
    A value that does not fit (``value_typed`` null) and is not a plain number or date
    (``PLAIN_VALUE_RE``) keeps only its shape in ``value`` (``text.shape``: "Ann Smith" ->
    "AAA AAAAA"), never its text: the row is loaded, and core SQL reads nothing from such a
    value (it is no date, number or choice code either way).
    """
    none = pl.lit(None, pl.String)
    if dic is None or long.height == 0:
        return long.with_columns(value_label=none, value_type=none, value_typed=none), []
    meta = _field_meta(long["field"].unique(maintain_order=True).to_list(), dic)
    choices = pl.DataFrame(
        [{"field": c, "value": code, "_choice_label": label}
         for c in meta.filter(pl.col("_kind") == "choice")["field"]
         for code, label in dic.field_of_column(c).choices.items()],
        schema={"field": pl.String, "value": pl.String, "_choice_label": pl.String})
    v, kind = pl.col("_v"), pl.col("_kind")
    has_choices = pl.col("field").is_in(choices["field"].unique().to_list())
    out = (long.with_columns(_v=pl.col("value").str.strip_chars())
           .join(meta, on="field", how="left", maintain_order="left")
           .join(choices.rename({"value": "_v"}), on=["field", "_v"], how="left",
                 maintain_order="left")
           .with_columns(_fits=pl.when(v.is_null() | kind.is_null()).then(None)
                         .when(kind == "text").then(True)
                         .when(kind == "choice").then(pl.col("_choice_label").is_not_null()
                                                      | ~has_choices)
                         .when(kind == "checkbox").then(v.is_in(["0", "1"]))
                         .otherwise(v.str.contains(pl.col("_pattern")))))
    typed = (pl.when(~pl.col("_fits").fill_null(False)).then(None)
             .when(kind == "text").then(pl.col("value"))
             .when(kind.is_in(["choice", "checkbox"])).then(v)
             .otherwise(_typed(v, kind)))
    out = out.with_columns(value_typed=typed, value_label=pl.coalesce(
        "_choice_label", pl.when(kind == "checkbox").then(pl.col("_checkbox_label"))))
    # the right shape but no such date or time (2024-02-30, 25:10): does not fit either
    out = out.with_columns(_fits=pl.col("_fits") & (pl.col("value_typed").is_not_null()
                                                    | pl.col("_fits").is_null()))
    numeric = kind.str.starts_with("number") | kind.is_in(["integer", "slider"])
    num = pl.col("value_typed").cast(pl.Float64, strict=False)
    low = pl.when(numeric).then(num < pl.col("_min").cast(pl.Float64, strict=False)).otherwise(
        pl.col("value_typed").str.slice(0, pl.col("_min").str.len_chars()) < pl.col("_min"))
    high = pl.when(numeric).then(num > pl.col("_max").cast(pl.Float64, strict=False)).otherwise(
        pl.col("value_typed").str.slice(0, pl.col("_max").str.len_chars()) > pl.col("_max"))
    out = out.with_columns(_low=low.fill_null(False), _high=high.fill_null(False))
    bad = ((pl.col("_fits") == False) & (kind != "calc")  # noqa: E712
           | pl.col("_low") | pl.col("_high"))
    out = out.with_row_index("_i")
    problems, masked = [], {}
    for r in out.filter(bad).iter_rows(named=True):
        if not re.search(PLAIN_VALUE_RE, r["_v"]):
            r["_shown"] = shape(r["value"], len(r["value"]))
            if r["value_typed"] is None:  # not read by core SQL: stored as its shape too
                masked[r["_i"]] = r["_shown"]
        problems.append(_problem(r))
    if masked:
        out = out.with_columns(value=pl.col("_i").replace_strict(
            list(masked), list(masked.values()), default=pl.col("value"),
            return_dtype=pl.String))
    return out.drop(
        "_i", "_kind", "_pattern", "_checkbox_label", "_validation", "_min", "_max",
        "_choice_label", "_fits", "_low", "_high", "_form", "_field", "_v"), problems


def _problem(r: dict) -> RowProblem:
    """The row problem of one long row that does not fit its dictionary field. Its value is
    the value as exported when it is a plain number or date (``PLAIN_VALUE_RE``: the site
    needs it to find the row, and it is not personal data), else its shape (``_shown``, see
    ``text.shape``: a name typed into a date field is "AAA AAAAA"); cut after
    ``SHOWN_CHARS`` characters."""
    field, value, validation = r["field"], r.get("_shown", r["value"]), r["_validation"]
    shown = value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "..."
    where = f"{r['form']} field {field} ({validation}) of record {r['record_id']}"
    if not r["_fits"]:
        if r["_kind"] == "choice":
            return RowProblem(r["row_number"], "redcap_unknown_choice", shown,
                              f"{where}: {shown!r} is not one of the field's choice codes",
                              field)
        expected = _expected(r["_kind"])
        if r["value_type"] in ("date", "datetime"):
            expected += " (REDCap exports every date as year-month-day)"
        return RowProblem(r["row_number"], "redcap_invalid_value", shown,
                          f"{where}: {shown!r} is not {expected}", field)
    bound, side = (r["_min"], "below the minimum") if r["_low"] else (r["_max"],
                                                                     "above the maximum")
    return RowProblem(r["row_number"], "redcap_out_of_range", shown,
                      f"{where}: {shown} is {side} {bound}", field)


def _expected(kind: str) -> str:
    """What a value of validation kind ``kind`` must look like, in words."""
    if kind == "checkbox":
        return "0 or 1 (a checkbox)"
    m = re.fullmatch(r"number_(\d)dp(_comma)?", kind)
    if m:
        return f"a number with {m[1]} decimal(s) after a {'comma' if m[2] else 'point'}"
    return KIND_TEXT[kind]


def dictionary_beside(path: Path, folder: Path | None = None) -> Path | None:
    """A REDCap data dictionary in the same folder as export ``path`` (or in ``folder``: the
    folder of the archive ``path`` was unpacked from) whose fields cover the export's columns
    (every data column a dictionary field or checkbox choice, every ``<form>_complete`` a
    dictionary form); the most recently modified if several do."""
    cells = header_cells(head_lines(path, 1)[0])
    if not is_redcap_header(cells):
        return None
    found = []
    for p in (folder or path.parent).iterdir():
        if p == path or not p.is_file() or p.stat().st_size > 50_000_000:
            continue
        if not is_redcap_dictionary(p):
            continue
        try:
            dic = RedcapDictionary.from_file(p)
        except (ValueError, pl.exceptions.PolarsError):
            continue
        if all(c.startswith("redcap_") or dic.field_of_column(c) is not None
               or (c.endswith(STATUS_SUFFIX) and c.removesuffix(STATUS_SUFFIX) in dic.forms)
               for c in cells[1:]):
            found.append((p.stat().st_mtime, p.name, p))
    return max(found)[2] if found else None
