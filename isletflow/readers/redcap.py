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

Personal data never leaves this reader (see ``personal_data_reason``): columns are dropped by
the dictionary's ``Identifier?`` flag and field types, by name (``PERSONAL_NAMES``), and by
values that look like e-mail addresses or phone numbers.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from isletflow.readers.redcap_dictionary import RedcapDictionary, is_redcap_dictionary
from isletflow.readers.text import (ExportLayoutError, RowProblem, decode_export, head_lines,
                                    read_csv_text)

# REDCap's own columns that are kept (the rest of ``redcap_*``, e.g. the survey identifier,
# which can hold a participant's name or e-mail, is dropped).
SYSTEM_COLUMNS = ["redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                  "redcap_data_access_group"]
ID_COLUMNS = ["record_id", *SYSTEM_COLUMNS]
RAW_COLUMNS = ["row_number", "form", *ID_COLUMNS, "form_complete", "field", "value",
               "value_label", "value_type", "value_typed"]
STATUS_SUFFIX = "_complete"

# Personal data dropped by name, with or without a dictionary (``Identifier?`` flags in the
# dictionary come on top). Matched on the field name (a checkbox column's field part),
# lower case: exact names, name prefixes, name parts anywhere, and name endings.
PERSONAL_NAMES = frozenset({
    "name", "first_name", "last_name", "middle_name", "full_name", "surname", "given_name",
    "family_name", "maiden_name", "patient_name", "participant_name", "subject_name", "fname",
    "lname", "initials", "dob", "date_of_birth", "birth_date", "birthdate", "birthday", "ssn",
    "social_security_number", "mrn", "medical_record_number", "nhs_number",
    "health_card_number", "insurance_number", "zip", "postcode", "comments", "notes",
})
PERSONAL_PREFIXES = ("telephone", "phone", "mobile", "cellphone", "cell_phone", "fax", "email",
                     "e_mail", "address", "street", "dob_")
PERSONAL_PARTS = ("phone", "email", "e_mail", "address", "zipcode", "zip_code", "postal_code",
                  "postcode")
PERSONAL_SUFFIXES = ("_first_name", "_last_name", "_full_name", "_contact_name", "_surname",
                     "_initials", "_dob", "_comments", "_notes")
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
    dropped: dict[str, str]               # dropped personal-data column -> why
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


def read_redcap(path: Path, dictionary: Path | RedcapDictionary | None = None
                ) -> tuple[pl.DataFrame, list[RowProblem]]:
    """A REDCap flat export as long text rows (``RAW_COLUMNS``) and its row problems; see
    ``read_redcap_export``."""
    r = read_redcap_export(path, dictionary)
    return r.rows, r.problems


def read_redcap_export(path: Path, dictionary: Path | RedcapDictionary | None = None
                       ) -> RedcapExport:
    """Read a REDCap flat export, split it into forms and unpivot it (module docstring).

    ``dictionary``: the project's data dictionary (a path or a loaded one). Fields it does
    not know keep the position rule and stay untyped (``value_type`` null).
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
    form_of, status_of, dropped = _layout(path, columns, dic)
    for c in _looks_personal(df, [c for c in form_of if c not in dropped]):
        dropped[c] = "values look like e-mail addresses or phone numbers"
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


def _layout(path: Path, columns: list[str], dic: RedcapDictionary | None
            ) -> tuple[dict[str, str], dict[str, str | None], dict[str, str]]:
    """Each data column's form, each form's status column (forms in export order), and the
    personal-data columns to drop with the reason.

    Status columns: ``<form>_complete`` of a dictionary form, else (without a dictionary, or a
    column the dictionary does not know) any column ending in ``_complete``. Data columns are
    the rest after the record id, except REDCap's own ``redcap_*`` columns. The position rule
    gives each data column a form; the dictionary's form, where it knows the field, wins.
    """
    rid = columns[0]
    dic_forms = set(dic.forms) if dic else set()

    def is_status(c: str) -> bool:
        if not c.endswith(STATUS_SUFFIX):
            return False
        return (c.removesuffix(STATUS_SUFFIX) in dic_forms
                or dic is None or dic.field_of_column(c) is None)

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
    return form_of, status_of, dropped


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
    problems = []
    bad = out.filter((pl.col("_fits") == False) & (kind != "calc")  # noqa: E712
                     | pl.col("_low") | pl.col("_high"))
    for r in bad.iter_rows(named=True):
        problems.append(_problem(r))
    return out.drop(
        "_kind", "_pattern", "_checkbox_label", "_validation", "_min", "_max", "_choice_label",
        "_fits", "_low", "_high", "_form", "_field", "_v"), problems


def _problem(r: dict) -> RowProblem:
    """The row problem of one long row that does not fit its dictionary field."""
    field, value, validation = r["field"], r["value"], r["_validation"]
    shown = value if len(value) <= 40 else value[:40] + "..."
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


def dictionary_beside(path: Path) -> Path | None:
    """A REDCap data dictionary in the same folder as export ``path`` whose fields cover the
    export's columns (every data column a dictionary field or checkbox choice, every
    ``<form>_complete`` a dictionary form); the most recently modified if several do."""
    cells = header_cells(head_lines(path, 1)[0])
    if not is_redcap_header(cells):
        return None
    found = []
    for p in path.parent.iterdir():
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
