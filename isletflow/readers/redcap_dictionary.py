"""REDCap data dictionary (the project's metadata CSV): fields, their forms, types and choices.

The dictionary is what REDCap's "Data Dictionary" page and its API (``content=metadata``)
download: one row per field, 18 columns under the exact header ``DICTIONARY_HEADER``. A site
sends it in its ``edc/`` folder beside its exports; it is detected by that header, never by
its file name. Its rows (``read_redcap_dictionary``) are loaded like any export; as a
``RedcapDictionary`` it tells the REDCap export reader which form each field belongs to,
how to type and check each value, what its choice codes mean, and which fields carry
personal data.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from isletflow.readers.archive import plain_export
from isletflow.readers.text import (ExportLayoutError, RowProblem, decode_export, head_lines,
                                    read_csv_text)

# The download header, exactly as REDCap writes it (PROVENANCE.md, section C).
DICTIONARY_HEADER = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
    "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
    "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?",
    "Field Annotation",
)
DICTIONARY_COLUMNS = (
    "field_name", "form_name", "section_header", "field_type", "field_label", "choices",
    "field_note", "validation", "validation_min", "validation_max", "identifier",
    "branching_logic", "required", "custom_alignment", "question_number", "matrix_group_name",
    "matrix_ranking", "field_annotation",
)
# Field types whose value is one code of a list: the code's label is in the dictionary
# (yesno and truefalse have fixed choices).
CHOICE_TYPES = ("radio", "dropdown", "yesno", "truefalse", "checkbox", "sql")
FIXED_CHOICES = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}


def is_dictionary_header(line: str) -> bool:
    """Whether ``line`` (the first line of a file) is the data dictionary's 18-column header."""
    try:
        cells = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return False
    return tuple(c.strip() for c in cells) == DICTIONARY_HEADER


def is_redcap_dictionary(path: Path) -> bool:
    """Whether the file at ``path`` is a REDCap data dictionary, from its first line; a
    ``.gz`` or a ``.zip`` of one export is read inside (``archive.plain_export``). A file
    that cannot be opened, unpacked or decoded as text (a PDF, a corrupt archive) is not one:
    it is reported when it is staged, never here."""
    try:
        with plain_export(path) as plain:
            return is_dictionary_header(head_lines(plain, 1)[0])
    except (OSError, ValueError):  # ExportEncodingError and ArchiveError are ValueErrors
        return False


def read_redcap_dictionary(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """The dictionary's rows as text, one per field, columns ``DICTIONARY_COLUMNS`` (the 18
    header columns in order, renamed to snake case) with ``row_number`` = the line in the file.

    Blank lines (REDCap's API ends the file with one) are not rows. A row without a field
    name or form name is a row problem; the other rows are kept.
    """
    data, _ = decode_export(path)
    df, problems = read_csv_text(data, ",")
    header = tuple(c.strip() for c in df.columns[1:])
    if header != DICTIONARY_HEADER:
        raise ExportLayoutError(f"{path.name}: not the 18-column REDCap data dictionary header")
    df = df.rename(dict(zip(df.columns[1:], DICTIONARY_COLUMNS, strict=True)))
    df = df.filter(pl.any_horizontal(pl.col(c).is_not_null() & (pl.col(c) != "")
                                     for c in DICTIONARY_COLUMNS))
    bad = df.filter(pl.col("field_name").is_null() | pl.col("form_name").is_null())
    problems += [RowProblem(r, "redcap_dictionary_row", None,
                            "a dictionary row without a field name or form name")
                 for r in bad["row_number"]]
    return (df.filter(pl.col("field_name").is_not_null() & pl.col("form_name").is_not_null())
            .select("row_number", *DICTIONARY_COLUMNS), problems)


def parse_choices(text: str | None) -> dict[str, str]:
    """REDCap's choice list ``"1, Yes | 0, No"`` as ``{code: label}``, codes in list order.

    Each ``|``-separated item is a code, a comma and its label (the label may hold commas);
    an item without a comma is its own code and label.
    """
    out: dict[str, str] = {}
    for item in (text or "").split("|"):
        code, _, label = item.partition(",")
        if code.strip():
            out[code.strip()] = label.strip() if label.strip() else code.strip()
    return out


def checkbox_suffix(code: str) -> str:
    """The export column suffix of a checkbox choice code: REDCap lower-cases the code
    (``ABC`` -> ``field___abc``, PROVENANCE.md C4) and writes other characters than
    letters, digits and ``_`` as ``_``."""
    return re.sub(r"[^0-9a-z_]", "_", code.lower())


@dataclass(frozen=True)
class FieldSpec:
    """One dictionary field, as needed to read its values."""

    name: str
    form: str
    field_type: str
    validation: str | None
    validation_min: str | None
    validation_max: str | None
    identifier: bool
    choices: dict[str, str]
    required: bool = False              # "Required Field?" = y
    branching_logic: str | None = None  # shown only if ... (REDCap enforces required then only)


@dataclass(frozen=True)
class RedcapDictionary:
    """A project's fields (in dictionary order) and forms (in order of first field)."""

    fields: dict[str, FieldSpec]
    forms: tuple[str, ...]
    source: str  # the dictionary file's name

    @classmethod
    def from_file(cls, path: Path) -> RedcapDictionary:
        """The dictionary in the file at ``path`` (plain, ``.gz`` or in a ``.zip``)."""
        with plain_export(path) as plain:
            df, _ = read_redcap_dictionary(plain)
        return cls.from_frame(df, path.name)

    @classmethod
    def from_frame(cls, df: pl.DataFrame, source: str) -> RedcapDictionary:
        fields: dict[str, FieldSpec] = {}
        for r in df.iter_rows(named=True):
            ftype = (r["field_type"] or "text").strip().lower()
            choices = FIXED_CHOICES.get(ftype) or (
                parse_choices(r["choices"]) if ftype in CHOICE_TYPES else {})
            name = r["field_name"].strip()
            fields[name] = FieldSpec(
                name=name, form=r["form_name"].strip(), field_type=ftype,
                validation=(r["validation"] or "").strip().lower() or None,
                validation_min=(r["validation_min"] or "").strip() or None,
                validation_max=(r["validation_max"] or "").strip() or None,
                identifier=(r["identifier"] or "").strip().lower() == "y", choices=choices,
                required=(r["required"] or "").strip().lower() == "y",
                branching_logic=(r["branching_logic"] or "").strip() or None)
        forms = tuple(dict.fromkeys(f.form for f in fields.values()))
        return cls(fields, forms, source)

    @property
    def record_id_field(self) -> str | None:
        """REDCap's record id is the project's first field."""
        return next(iter(self.fields), None)

    def field_of_column(self, column: str) -> FieldSpec | None:
        """The field an export column holds: the field itself, or for a checkbox column
        ``field___code`` its checkbox field (code matched case-insensitively)."""
        if column in self.fields:
            return self.fields[column]
        base, sep, code = column.rpartition("___")
        spec = self.fields.get(base) if sep else None
        if spec and spec.field_type == "checkbox" and self.checkbox_code(spec, code) is not None:
            return spec
        return None

    @staticmethod
    def checkbox_code(spec: FieldSpec, suffix: str) -> str | None:
        """The dictionary's code of checkbox column suffix ``suffix`` (any case), if any."""
        wanted = checkbox_suffix(suffix)
        return next((c for c in spec.choices if checkbox_suffix(c) == wanted), None)

    def export_columns(self) -> list[str]:
        """The data columns an export of every field has (checkbox fields expanded to one
        column per choice; descriptive fields have no column), without ``_complete``."""
        cols: list[str] = []
        for f in self.fields.values():
            if f.field_type == "descriptive":
                continue
            if f.field_type == "checkbox":
                cols += [f"{f.name}___{checkbox_suffix(c)}" for c in f.choices]
            else:
                cols.append(f.name)
        return cols
