"""Central-lab results reader: one result per row; `,` or `;` (decimal comma), UTF-8 or Latin-1."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from isletflow.readers.text import (RowProblem, decode_export, first_line, read_csv_text,
                                    require_columns, sniff_delimiter)

CENTRAL_LAB_COLUMNS = ["subject_id", "visit", "collection_date", "test_code", "test_name",
                       "result", "unit"]
# Optional: the lab's accession (specimen) number, part of a result's identity when sent.
ACCESSION_NAMES = ("accession", "accession_number", "accession_no", "accession_id")


def read_central_lab(path: Path) -> tuple[pl.DataFrame, list[RowProblem]]:
    """Read a central-lab result file as text rows with their line numbers.

    European labs send ``;``-separated files with decimal commas, some in Latin-1; the
    ``decimal_mark`` column records which, so core SQL reads ``5,4`` as 5.4. An accession
    number column (``ACCESSION_NAMES``, any case) is kept as ``accession``; other extra
    columns are not loaded.
    """
    data, _ = decode_export(path, allow_latin1=True)
    sep = sniff_delimiter(first_line(data))
    df, problems = read_csv_text(data, sep)
    require_columns(path, df.columns, CENTRAL_LAB_COLUMNS, "central-lab")
    accession = next((c for c in df.columns if c.strip().lower() in ACCESSION_NAMES), None)
    return df.with_columns(
        decimal_mark=pl.lit("," if sep == ";" else "."),
        accession=pl.col(accession) if accession else pl.lit(None, pl.String),
    ).select(["row_number", *CENTRAL_LAB_COLUMNS, "accession", "decimal_mark"]), problems
