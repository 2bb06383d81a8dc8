"""Great Expectations suites built from a REDCap data dictionary (one per form), and the EDC
issues they find in REDCap exports read into ``raw.redcap``'s long shape.

The dictionary (the 18-column metadata CSV, ``RedcapDictionary``) says, per field, what REDCap
lets a site enter; a value that breaks it came in by a data import, an API write or a changed
dictionary. Each field gives the expectations below (``field_expectations``), on the columns
of a REDCap flat export (one row per record x event x repeat instance; a checkbox field is one
column per choice, ``field___code``), all values as exported text:

* a text field with a date, date-time or time validation (``date_ymd``/``_dmy``/``_mdy``,
  ``datetime_*``, ``datetime_seconds_*``, ``time``, ``time_hh_mm_ss``): the value matches the
  form REDCap **exports** (``readers.redcap.KIND_PATTERN``: every date as ``YYYY-MM-DD`` whatever
  the display order, PROVENANCE.md C4) and, except ``time_mm_ss``, is a real date or time
  (``ExpectColumnValuesToMatchStrftimeFormat``: no 2024-02-30, no 25:10): 2 expectations;
  ``time_mm_ss``: 1;
* a text field with a number validation (``integer``, ``number``, ``number_Ndp``, their
  ``_comma_decimal`` forms): the value matches its exported form (``36,5`` for a
  comma-decimal field): 1 expectation;
* a text field validated as ``email``, ``phone``, ``zipcode`` or ``alpha_only``
  (``OTHER_VALIDATIONS``): 1 expectation; other validations and plain text: none;
* ... plus, when the field has a constant ``Text Validation Min`` or ``Max`` (a number, or a
  ``YYYY-MM-DD[ HH:MM[:SS]]`` date; ``today``, ``now`` and piped ``[field]`` bounds are not
  constants and are not checked), 1 range expectation on its typed value (``typed_column``);
* a slider: a whole number (1) between its min and max, 0 and 100 by default (1): 2;
* a radio, dropdown, yes/no (codes 0, 1) or true/false (0, 1) field: the value is one of its
  choice codes: 1 expectation;
* a checkbox field: each of its columns ``field___code`` is 0 or 1: 1 expectation per choice;
* a field with ``Required Field? = y`` and no branching logic (REDCap enforces a required
  field only when it is shown; a calculated or descriptive field is never entered): it is not
  empty, for a checkbox at least one box is ticked (``checked_column``): 1 expectation;
* calculated (``calc``), ``notes``, ``file``, ``descriptive`` and ``sql`` fields: nothing else
  (an ``sql`` field's choices come from a query the dictionary does not hold).

The project's record id (its first field) is the record's key, never a field row of
``raw.redcap``: it gets no expectation. Rule names are those of the export reader's own
dictionary checks (``readers.redcap._type_values``), plus ``redcap_required_missing``.

Every expectation's ``meta`` names its form, field, the export column(s) it reads, its rule and
what was expected, so that a failure maps back to a row of ``quality.issues`` (``edc_issues``).
GX's SQL datasource fails on DuckDB (DESIGN.md, "Known constraints"), so ``edc_issues`` runs
the suites on pandas batches, built from ``raw.redcap``-shaped long rows in memory.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import great_expectations as gx
import polars as pl

from isletflow.quality import ISSUE_SCHEMA, _gx_batch_definition, empty_issues
from isletflow.readers.redcap import (EMAIL_RE, KIND_PATTERN, KIND_TEXT, KIND_TYPE,
                                      PLAIN_VALUE_RE, SHOWN_CHARS, VALIDATION_KIND, _expected,
                                      personal_data_reason)
from isletflow.readers.redcap_dictionary import FieldSpec, RedcapDictionary, checkbox_suffix
from isletflow.readers.text import shape

INVALID = "redcap_invalid_value"
OUT_OF_RANGE = "redcap_out_of_range"
UNKNOWN_CHOICE = "redcap_unknown_choice"
REQUIRED_MISSING = "redcap_required_missing"

# Text validations other than dates, times and numbers that have a fixed exported form:
# validation -> (regular expression, what it means). ``phone`` is REDCap's North American
# number: a 3-digit area code and exchange that do not start with 0 or 1, then 4 digits, with
# optional brackets, spaces, dots or hyphens ("(555) 555-2658" in PROVENANCE.md C4).
OTHER_VALIDATIONS = {
    "email": (EMAIL_RE, "an e-mail address"),
    "phone": (r"^\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]?\d{4}$",
              "a North American phone number (999) 999-9999"),
    "zipcode": (r"^\d{5}(-\d{4})?$", "a US ZIP code 99999 or 99999-9999"),
    "alpha_only": (r"^[A-Za-z]+$", "letters only"),
}
# Date and time kinds (readers.redcap.VALIDATION_KIND) -> the strftime format of a real value.
# time_ms (MM:SS) is not here: its pattern already allows only 00-59 for both parts.
STRFTIME = {"date": "%Y-%m-%d", "datetime_hm": "%Y-%m-%d %H:%M",
            "datetime_hms": "%Y-%m-%d %H:%M:%S", "time_hm": "%H:%M", "time_hms": "%H:%M:%S"}
# How a date or time kind's text becomes a datetime (times on 1900-01-01, as strptime does).
_DATETIME_PREFIX = {"time_hm": "1900-01-01 ", "time_hms": "1900-01-01 ",
                    "time_ms": "1900-01-01 00:"}
_DATETIME_FORMAT = {"date": "%Y-%m-%d", "datetime_hm": "%Y-%m-%d %H:%M",
                    "datetime_hms": "%Y-%m-%d %H:%M:%S", "time_hm": "%Y-%m-%d %H:%M",
                    "time_hms": "%Y-%m-%d %H:%M:%S", "time_ms": "%Y-%m-%d %H:%M:%S"}
CHOICE_FIELD_TYPES = ("radio", "dropdown", "yesno", "truefalse")
NOT_ENTERED = ("calc", "descriptive")  # never typed in by a site: never required

# The columns of raw.redcap that edc_issues reads (sql/raw/tables.sql); the first four are
# needed, the rest are taken as empty when absent.
LONG_COLUMNS = ("file_id", "row_number", "field", "value", "record_id", "redcap_event_name",
                "redcap_repeat_instrument", "redcap_repeat_instance", "form", "form_complete")
_KEY = ["file_id", "row_number"]
_IDS = ["record_id", "redcap_event_name", "redcap_repeat_instance"]


def typed_column(column: str) -> str:
    """The name of the typed companion of a validated text column in a suite's batch (a
    float for numbers and sliders, a datetime for dates and times; empty where the text does
    not match its exported form). ``:`` never occurs in a REDCap field name."""
    return f"{column}:typed"


def checked_column(field: str) -> str:
    """The batch column that is ``1`` where a checkbox field has a box ticked, else empty."""
    return f"{field}:checked"


def _non_capturing(regex: str) -> str:
    """``regex`` with its groups made non-capturing (pandas warns on a pattern with capture
    groups used as a mere test, as GX's pandas regex check does)."""
    return re.sub(r"(?<!\\)\((?!\?)", "(?:", regex)


def _meta(spec: FieldSpec, rule: str, column: str | None, columns: list[str], expected: str,
          **more: object) -> dict:
    return {"form": spec.form, "field": spec.name, "column": column, "columns": columns,
            "rule": rule, "validation": spec.validation or spec.field_type,
            "expected": expected, **more}


def _bound(kind: str, text: str | None) -> float | dt.datetime | None:
    """A validation min/max as the typed column holds it; None when absent or not a constant
    (``today``, ``now``, ``[field]``). Dictionary bounds of date fields are Y-M-D whatever the
    display order, as the values are."""
    t = (text or "").strip()
    if not t:
        return None
    if kind in _DATETIME_FORMAT:
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%H:%M:%S", "%H:%M"):
            try:
                return dt.datetime.strptime(t, fmt)
            except ValueError:
                continue
        return None
    t = t.replace(",", ".")
    return float(t) if re.fullmatch(r"[-+]?\d*\.?\d+", t) else None


def _range(spec: FieldSpec, kind: str, lo_text: str | None, hi_text: str | None):
    """The range expectation of a validated field, or None without a constant bound."""
    lo, hi = _bound(kind, lo_text), _bound(kind, hi_text)
    if lo is None and hi is None:
        return None
    expected = " and ".join(s for s in (f"at least {lo_text}" if lo is not None else "",
                                        f"at most {hi_text}" if hi is not None else "") if s)
    return gx.expectations.ExpectColumnValuesToBeBetween(
        column=typed_column(spec.name), min_value=lo, max_value=hi,
        meta=_meta(spec, OUT_OF_RANGE, spec.name, [spec.name], expected, kind=kind,
                   min=lo_text if lo is not None else None,
                   max=hi_text if hi is not None else None))


def field_expectations(spec: FieldSpec) -> list:
    """The expectations of one dictionary field (module docstring), in this order: exported
    form, real date or time, range, choices, required."""
    col, ftype = spec.name, spec.field_type
    out: list = []
    if ftype == "checkbox":
        cols = [f"{col}___{checkbox_suffix(c)}" for c in spec.choices]
        out += [gx.expectations.ExpectColumnValuesToBeInSet(
            column=c, value_set=["0", "1"],
            meta=_meta(spec, INVALID, c, [c], _expected("checkbox"))) for c in cols]
        if spec.required and not spec.branching_logic:
            out.append(gx.expectations.ExpectColumnValuesToNotBeNull(
                column=checked_column(col),
                meta=_meta(spec, REQUIRED_MISSING, None, cols, "at least one box ticked",
                           kind="checkbox_any")))
        return out
    kind = ("slider" if ftype == "slider" else
            VALIDATION_KIND.get(spec.validation or "") if ftype == "text" else None)
    if kind:
        expected = _expected(kind)
        if KIND_TYPE.get(kind) in ("date", "datetime"):
            expected += " (REDCap exports every date as year-month-day)"
        out.append(gx.expectations.ExpectColumnValuesToMatchRegex(
            column=col, regex=_non_capturing(KIND_PATTERN[kind]),
            meta=_meta(spec, INVALID, col, [col], expected)))
        if kind in STRFTIME:
            out.append(gx.expectations.ExpectColumnValuesToMatchStrftimeFormat(
                column=col, strftime_format=STRFTIME[kind],
                meta=_meta(spec, INVALID, col, [col],
                           f"a real {KIND_TEXT[kind].removeprefix('a ').removeprefix('an ')}")))
        lo, hi = spec.validation_min, spec.validation_max
        if kind == "slider":
            lo, hi = lo or "0", hi or "100"
        rng = _range(spec, kind, lo, hi)
        if rng is not None:
            out.append(rng)
    elif ftype == "text" and spec.validation in OTHER_VALIDATIONS:
        regex, expected = OTHER_VALIDATIONS[spec.validation]
        out.append(gx.expectations.ExpectColumnValuesToMatchRegex(
            column=col, regex=_non_capturing(regex),
            meta=_meta(spec, INVALID, col, [col], expected)))
    elif ftype in CHOICE_FIELD_TYPES and spec.choices:
        codes = list(spec.choices)
        out.append(gx.expectations.ExpectColumnValuesToBeInSet(
            column=col, value_set=codes,
            meta=_meta(spec, UNKNOWN_CHOICE, col, [col],
                       "one of the field's choice codes " + ", ".join(codes))))
    if spec.required and not spec.branching_logic and ftype not in NOT_ENTERED:
        out.append(gx.expectations.ExpectColumnValuesToNotBeNull(
            column=col, meta=_meta(spec, REQUIRED_MISSING, col, [col], "a value")))
    return out


def suites_from_dictionary(dic: RedcapDictionary, forms: Iterable[str] | None = None
                           ) -> dict[str, gx.ExpectationSuite]:
    """One suite per form of ``dic`` (``forms``: these forms only, in the order given),
    named ``redcap_<form>``, holding ``field_expectations`` of the form's fields in dictionary
    order (the record id aside). A form with nothing to check gets an empty suite. A form the
    dictionary lacks is a ValueError naming it."""
    wanted = list(dic.forms) if forms is None else list(dict.fromkeys(forms))
    unknown = [f for f in wanted if f not in dic.forms]
    if unknown:
        raise ValueError(f"form(s) {', '.join(unknown)} not in the data dictionary {dic.source}")
    return {form: gx.ExpectationSuite(name=f"redcap_{form}", expectations=[
        e for spec in dic.fields.values()
        if spec.form == form and spec.name != dic.record_id_field
        for e in field_expectations(spec)]) for form in wanted}


def _derived(meta: dict, present: set[str]) -> pl.Expr:
    """The batch column a typed-range or checkbox-required expectation reads, from the text
    columns (``typed_column``, ``checked_column``)."""
    if meta.get("kind") == "checkbox_any":
        ticked = [pl.col(c) == "1" for c in meta["columns"] if c in present]
        return pl.when(pl.any_horizontal(ticked) if ticked else pl.lit(False)).then(pl.lit("1"))
    kind, v = meta["kind"], pl.col(meta["column"])
    fits = v.str.contains(KIND_PATTERN[kind])
    if kind in _DATETIME_FORMAT:
        text = pl.lit(_DATETIME_PREFIX[kind]) + v if kind in _DATETIME_PREFIX else v
        return pl.when(fits).then(text.str.to_datetime(_DATETIME_FORMAT[kind], strict=False,
                                                       time_unit="us"))
    return pl.when(fits).then(v.str.replace(",", ".").str.strip_prefix("+")
                              .cast(pl.Float64, strict=False))


def _shown(value: str) -> str:
    """A failing value as the issue shows it: as exported when it is a plain number or date
    (``readers.redcap.PLAIN_VALUE_RE``), else its shape (``text.shape``: a name typed into a
    date field is "AAA AAAAA"); cut after ``SHOWN_CHARS`` characters."""
    v = value if re.search(PLAIN_VALUE_RE, value) else shape(value, len(value))
    return v if len(v) <= SHOWN_CHARS else v[:SHOWN_CHARS] + "..."


def edc_issues(long: pl.DataFrame, dic: RedcapDictionary,
               forms: Iterable[str] | None = None) -> pl.DataFrame:
    """The values of REDCap export rows that break their form's suite
    (``suites_from_dictionary(dic, forms)``), as rows of ``quality.issues`` (ISSUE_SCHEMA).

    ``long``: rows shaped like ``raw.redcap`` (``LONG_COLUMNS``), one per export row x field;
    a field's form is the dictionary's (fields it lacks are not checked). Per form, the rows
    are pivoted to one row per export row (``file_id``, ``row_number``) with a text column per
    field, values trimmed of spaces, empty = null; only export rows that **belong to the
    form** count, as the export reader decides (``readers.redcap`` module docstring): a
    repeat-instrument row belongs to its instrument only; another row belongs when one of the
    form's fields is filled (a checkbox column when it is not ``0``) or its ``<form>_complete``
    status is 1 or 2. (A whole-project export leaves a form's fields empty on the rows of other
    events and instruments: those rows are never "required but missing".)

    A file's rows are checked only by the expectations whose columns the file has (a field row
    in ``long``, empty or not): an export made before a field was added, or without a field
    that was not loaded (identifiers, fields the trial does not collect) is not short of it.

    Speed: the suite runs on the distinct rows of field values (weekly cumulative exports
    repeat most rows), and each failure is mapped back to every export row with those values.

    Issues: ``table_name`` '(file)', ``source_file_id``/``source_row`` the export row,
    ``severity`` 'warning' (the row is kept), ``rule`` from the expectation's meta,
    ``column_name`` the export column (a checkbox field's name for a required checkbox),
    ``value`` the value as ``_shown`` shows it, never for a field the export reader treats as
    personal data (``personal_data_reason``: flagged ``Identifier?``, a notes or contact-detail
    field, a personal-data name): those issues and messages carry no value. One issue per
    export row, column and rule (a value that is neither in its exported form nor a real date
    is reported once, as not in its form).
    """
    suites = suites_from_dictionary(dic, forms)
    missing = [c for c in LONG_COLUMNS[:4] if c not in long.columns]
    if missing:
        raise ValueError(f"edc_issues needs raw.redcap's columns; missing {missing}")
    if long.height == 0:
        return empty_issues()
    long = long.with_columns(pl.lit(None, pl.String).alias(c) for c in LONG_COLUMNS
                             if c not in long.columns)
    spec_of = {c: dic.field_of_column(c) for c in long["field"].unique().drop_nulls()}
    fields = pl.DataFrame(
        [(c, s.form, s.field_type == "checkbox") for c, s in spec_of.items()
         if s is not None and s.form in suites],
        schema={"field": pl.String, "_form": pl.String, "_checkbox": pl.Boolean}, orient="row")
    v = pl.col("value").cast(pl.String).str.strip_chars()
    rows = long.select(
        pl.col("file_id").cast(pl.String), pl.col("row_number").cast(pl.Int64),
        *(pl.col(c).cast(pl.String) for c in (*_IDS, "redcap_repeat_instrument", "form",
                                              "form_complete", "field")),
        value=pl.when(v != "").then(v)).join(fields, on="field")
    parts = [_form_issues(rows.filter(pl.col("_form") == form), form, suite, spec_of)
             for form, suite in suites.items() if len(suite.expectations)]
    parts = [p for p in parts if p.height]
    if not parts:
        return empty_issues()
    return pl.concat(parts).sort("source_file_id", "source_row", "column_name", "rule")


def _form_issues(rows: pl.DataFrame, form: str, suite: gx.ExpectationSuite,
                 spec_of: dict[str, FieldSpec | None]) -> pl.DataFrame:
    """``edc_issues`` for one form: ``rows`` are its long rows (field in the form)."""
    if rows.height == 0:
        return empty_issues()
    repeat = pl.col("redcap_repeat_instrument").first()
    filled = (pl.col("value").is_not_null() & ~(pl.col("_checkbox") & (pl.col("value") == "0"))
              | (pl.col("form") == form) & pl.col("form_complete").is_in(["1", "2"]))
    belongs = rows.group_by(_KEY).agg(
        _in=pl.when(repeat.is_not_null()).then(repeat == form).otherwise(filled.any()))
    rows = rows.join(belongs.filter("_in"), on=_KEY, how="semi")
    if rows.height == 0:
        return empty_issues()
    # which fields each file has: the expectations that apply to its rows
    has = rows.group_by("file_id").agg(pl.col("field").unique())
    sigs = {f: frozenset(cols) for f, cols in has.iter_rows()}
    sig_id = {s: i for i, s in enumerate(dict.fromkeys(sigs.values()))}
    present = set().union(*sigs.values())
    run = [e for e in suite.expectations if set(e.meta["columns"]) & present]
    if not run:
        return empty_issues()
    suite = gx.ExpectationSuite(name=suite.name, expectations=run)
    wide = rows.pivot(on="field", index=[*_KEY, *_IDS], values="value",
                      aggregate_function="first")
    columns = sorted({c for e in run for c in e.meta["columns"]})
    wide = wide.with_columns([pl.lit(None, pl.String).alias(c) for c in columns
                              if c not in wide.columns]).with_columns(
        _sig=pl.col("file_id").replace_strict({f: sig_id[s] for f, s in sigs.items()},
                                              return_dtype=pl.Int64))
    distinct = wide.select(columns).unique().with_row_index("_k")
    wide = wide.join(distinct, on=columns, how="left", nulls_equal=True)
    batch = distinct.with_columns(
        _derived(e.meta, set(columns)).alias(e.column) for e in suite.expectations
        if e.column not in columns)
    result = _gx_batch_definition().get_batch(
        batch_parameters={"dataframe": batch.to_pandas()}).validate(
        suite, result_format={"result_format": "COMPLETE",
                              "unexpected_index_column_names": ["_k"]})
    # one issue per export row, column and rule: the first expectation's in suite order
    order = {(e.expectation_type, e.column): i for i, e in enumerate(run)}
    out = []
    for res in result.results:
        if res.success:
            continue
        cfg = res.expectation_config
        meta = cfg.meta
        if (res.exception_info or {}).get("raised_exception"):
            raise RuntimeError(f"GX expectation on {meta['column']} of form {form} raised: "
                               f"{res.exception_info['exception_message']}")
        ks = [int(item["_k"]) for item in res.result.get("unexpected_index_list") or []]
        applies = [i for s, i in sig_id.items() if set(meta["columns"]) & s]
        hit = wide.filter(pl.col("_k").is_in(ks) & pl.col("_sig").is_in(applies))
        if hit.height:
            out.append(_issue_rows(hit, meta, spec_of.get(meta["column"] or "")).with_columns(
                _order=pl.lit(order[(cfg.type, cfg.kwargs["column"])])))
    if not out:
        return empty_issues()
    return (pl.concat(out).sort("_order", maintain_order=True)
            .unique(["source_file_id", "source_row", "column_name", "rule"], keep="first",
                    maintain_order=True).drop("_order"))


def _issue_rows(hit: pl.DataFrame, meta: dict, spec: FieldSpec | None) -> pl.DataFrame:
    """The issues of one failed expectation on the export rows ``hit`` (module docstring)."""
    rule, column = meta["rule"], meta["column"]
    private = personal_data_reason(column or meta["field"], spec) is not None
    values = hit[column] if column and rule != REQUIRED_MISSING and not private else None
    shown = ({x: _shown(x) for x in values.unique().drop_nulls()} if values is not None else {})
    where = pl.format("{} field {} ({}) of record {}", pl.lit(meta["form"]),
                      pl.lit(column or meta["field"]), pl.lit(meta["validation"]),
                      pl.col("record_id").fill_null("?"))
    where = pl.concat_str(
        where, pl.lit(", event ") + pl.col("redcap_event_name"),
        pl.lit(", instance ") + pl.col("redcap_repeat_instance"), ignore_nulls=True)
    value = (pl.col(column).replace_strict(shown, default=None, return_dtype=pl.String)
             if values is not None else pl.lit(None, pl.String))
    quoted = pl.lit("'") + pl.col("value") + pl.lit("'")
    if rule == REQUIRED_MISSING:
        what = pl.lit(" is empty" if meta.get("kind") != "checkbox_any" else
                      " has no box ticked") + pl.lit(", but the dictionary marks it required")
    elif rule == OUT_OF_RANGE:
        lo, hi = meta.get("min"), meta.get("max")
        typed = _derived(meta, set(hit.columns))
        below = (typed < _bound(meta["kind"], lo)) if lo is not None else pl.lit(False)
        side = pl.when(below).then(pl.lit(f"below the minimum {lo}")).otherwise(
            pl.lit(f"above the maximum {hi}"))
        what = pl.concat_str(pl.lit(": "), pl.coalesce(pl.col("value"), pl.lit("the value")),
                             pl.lit(" is "), side)
    else:
        what = pl.concat_str(pl.lit(": "), pl.coalesce(quoted, pl.lit("the value")),
                             pl.lit(f" is not {meta['expected']}"))
    return hit.with_columns(value=value).select(
        table_name=pl.lit("(file)"), source_file_id="file_id", source_row="row_number",
        rule=pl.lit(rule), severity=pl.lit("warning"),
        column_name=pl.lit(column or meta["field"]), value="value",
        message=pl.concat_str(where, what), site_id=pl.lit(None, pl.String),
        file=pl.lit(None, pl.String)).cast(ISSUE_SCHEMA)
