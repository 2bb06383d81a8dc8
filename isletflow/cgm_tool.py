"""``isletflow cgm-metrics``: consensus CGM metrics per participant of one file.

A long CSV (``id,time,gl`` or ``participant_id,timestamp,glucose_mg_dl``) is read by a lazy
polars scan with an explicit schema and typed by the same expressions as ``isletflow
inspect`` types it (:func:`read_long_csv`), without the pipeline that ``inspect`` runs for
any file (the whole file decoded, a copy of it with the header rewritten, an in-memory DuckDB
with the trial's tables, which long rows never enter). Files that scan cannot take exactly
as that pipeline would (another encoding than UTF-8, lone-CR line ends, a last row cut off, a
malformed record, a compressed file) and every device export go through
``inspect.inspect_export`` as before: a device export's harmonisation (time zones and the
device's clock settings, Low/High, mmol/L, Libre scans) is the core SQL of the warehouse,
``sql/core/03_cgm_readings.sql``, and stays the one definition of it.

Imports are what the file needs: polars and format detection for a long CSV; DuckDB, the
trial definition and the core SQL only for a device export or a fallback.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from isletflow.endpoints.cgm_metrics import METRIC_COLUMNS, cgm_metrics

OUTPUT_COLUMNS = ["participant_id", *METRIC_COLUMNS]
UNKNOWN_PARTICIPANT = "unknown"
CGM_FORMATS = ("dexcom_clarity", "libreview")
NO_SITE_NOTE = ("no site (--site, or a <site>/ folder in the path): metrics on the device's "
                "local times")

# Fixed layouts of a long CSV's first time value and the strptime format that reads them
# (ISO 8601 date and time, as iglu and R's write.csv write POSIXct): see fixed_time_format.
FIXED_TIME_FORMATS = (
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"), "%Y-%m-%d %H:%M:%S"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"), "%Y-%m-%dT%H:%M:%S"),
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"), "%Y-%m-%d %H:%M"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"), "%Y-%m-%dT%H:%M"),
)
TIME_SAMPLE_ROWS = 1000  # first rows on which the fixed format is checked against inference


def infer_interval_min(timestamps: pl.Expr) -> pl.Expr:
    """The sampling interval of a series without device metadata: the most common gap
    between consecutive readings, in whole minutes (as iglu's ``dt0`` default does); of
    gaps equally common, the shortest. None for a single reading.

    (Before, the first reading's missing gap counted as a value and ties were broken by
    polars' hash order, so a short series could get no interval, or another one, from run to
    run.)"""
    return (timestamps.sort().diff().drop_nulls().dt.total_seconds().truediv(60).round(0)
            .mode().min())


def file_metrics(path: Path, site: str | None = None,
                 participant: str | None = None) -> pl.DataFrame:
    """Consensus metrics per participant of one file: see :func:`metrics_and_note`."""
    return metrics_and_note(path, site, participant)[0]


def metrics_and_note(path: Path, site: str | None = None, participant: str | None = None,
                     trial: Path | None = None) -> tuple[pl.DataFrame, str | None]:
    """Consensus metrics (see :func:`cgm_metrics`) per participant of a Clarity or LibreView
    export or a long CSV (``id,time,gl`` or ``participant_id,timestamp,glucose_mg_dl``).

    Device exports go through the same reader and harmonisation as the nightly flow (Low/High
    kept as censored readings; Libre scans left out; the device interval 5 or 15 min). A long
    CSV has no device: its interval is inferred per participant (:func:`infer_interval_min`).
    % CGM active is of the span from the first to the last reading. Unreadable values are
    left out. Columns in the order of DESIGN.md "Contracts".

    A device export is read in its site's time zone (``site``, or a ``<site>/`` folder in the
    path) and the metrics use UTC times; without a site they use the device's local times (a
    repeated daylight-saving hour then gives some timestamps twice, and duplicate timestamps
    are left out as for any series). The participant is ``participant``, else from the file
    name (``<participant_id>__*.csv``), else ``unknown``. The note says when the metrics
    are on local times (None otherwise).

    A long CSV is read by :func:`read_long_csv` when it can take the file, else (and for
    every other file) through ``inspect.inspect_export``: :func:`metrics_via_inspect`. Both
    give the same rows, so the same metrics (tests/test_cgm_tool.py). Errors come in the
    same order as there: the trial file's, the file's, then an unknown site's.
    """
    from isletflow.readers import detect_format
    from isletflow.readers.archive import is_compressed

    t = _load_trial(trial) if trial else None
    if not is_compressed(path) and detect_format(path) == "cgm_long":
        rows = read_long_csv(path)
        if rows is not None:
            if site:  # the site of a long CSV is unused, but an unknown one is refused
                from isletflow.inspect import site_for

                site_for(path, site, t or _load_trial(None))
            return long_csv_metrics(rows), None
    return metrics_via_inspect(path, site, participant, t)


def _load_trial(path: Path | None):
    from isletflow.trial import load_trial

    return load_trial(path)


def metrics_via_inspect(path: Path, site: str | None = None, participant: str | None = None,
                        trial=None) -> tuple[pl.DataFrame, str | None]:
    """:func:`metrics_and_note` of the rows ``isletflow inspect`` reads (``trial``: a loaded
    trial definition, default the sample trial's): the path of every device export, and of
    the long CSVs :func:`read_long_csv` does not take."""
    from isletflow.inspect import inspect_export
    from isletflow.readers import ReadError

    r = inspect_export(path, site=site, participant=participant, trial=trial)
    c = r.canonical
    note = None
    if r.export_format == "cgm_long":
        readings = c.filter(pl.col("glucose_mg_dl").is_not_null()
                            & pl.col("timestamp").is_not_null()).with_columns(
            censored=pl.lit(None, pl.String),
            interval_min=infer_interval_min(pl.col("timestamp")).over("participant_id"))
    elif r.export_format in CGM_FORMATS:
        readings = c.with_columns(
            timestamp=pl.coalesce("timestamp_utc", "timestamp_local"),
            participant_id=pl.col("participant_id").fill_null(UNKNOWN_PARTICIPANT),
        ).filter((pl.col("device") != "libre_scan") & pl.col("glucose_mg_dl").is_not_null()
                 & pl.col("timestamp").is_not_null())
        if c["site_id"].null_count() == c.height:
            note = NO_SITE_NOTE
    else:
        raise ReadError(f"{path.name}: a {r.export_format} file has no CGM readings")
    return _metrics(readings), note


def _metrics(readings: pl.DataFrame) -> pl.DataFrame:
    """:func:`cgm_metrics` in the output columns. Its de-duplication (a participant's
    repeated timestamp: the first row kept) is skipped when :func:`times_are_unique` shows
    it would keep every row: the same rows in the same order, so the same metrics."""
    cols = readings.select("participant_id", "timestamp", "glucose_mg_dl", "censored",
                           "interval_min")
    return cgm_metrics(cols, dedupe=not times_are_unique(cols)).select(OUTPUT_COLUMNS).cast(
        {"participant_id": pl.String})


def times_are_unique(readings: pl.DataFrame) -> bool:
    """Whether no participant has two readings at one time: per participant (a missing id is
    one participant, as for ``cgm_metrics``' grouping) as many distinct timestamps as rows.
    Counting distinct timestamps per participant hashes one integer column; de-duplicating
    hashes the id and the time of every row and keeps their order (0.02 s against 0.28 s of
    CPU on the 1.3 M-reading bench CSV)."""
    return bool(readings.group_by("participant_id").agg(
        ok=pl.col("timestamp").n_unique() == pl.len()).select(pl.col("ok").all()).item())


# --- long CSV -------------------------------------------------------------------------------

def read_long_csv(path: Path) -> pl.DataFrame | None:
    """A long CSV's canonical rows (``participant_id``, ``timestamp``, ``glucose_mg_dl``), as
    ``inspect`` gives them (``readers.cgm_long.read_cgm_long`` and the typing in
    ``inspect.inspect_export``), or None when the file is not one this scan reads the same.

    It reads the same records with the same parser: polars' CSV reader with the options
    ``readers.text.read_delimited`` uses (all text, ``"`` quotes, short rows padded with
    nulls, one spare column so that a row with a value beyond the header is left out as
    there), the header line skipped instead of rewritten. What that pipeline does before
    polars parses is checked instead of done: UTF-8 (BOM or not; an ASCII file is UTF-8
    without decoding it), no lone-CR line ends (``text.cr_line_ends_to_lf``), no last row
    cut off mid-row (``text._cut_truncated_last_row``), a long header (``cgm_long``). A file
    failing a check, or a record polars cannot split, returns None: the caller reads it
    through ``inspect``, which converts it or refuses it with its own message.

    Glucose is cast to a number as there; times are parsed as :func:`time_expr` says. The
    participant is read as a categorical (the same texts, grouped by integer codes: the
    metrics group by participant three times, 30 % faster so on the bench CSV); the
    metrics give it back as text.
    """
    from isletflow.readers.cgm_long import long_header
    from isletflow.readers.text import (_cut_truncated_last_row, complete_fields,
                                        cr_line_ends_to_lf, sniff_delimiter, split_line)

    data = path.read_bytes()
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if cr_line_ends_to_lf(data) is not data:
        return None
    header_end = data.find(b"\n")
    line = data[:header_end if header_end >= 0 else len(data)]
    header = line.removeprefix(b"\xef\xbb\xbf").decode("utf-8").rstrip("\r")
    sep = sniff_delimiter(header)
    cells = split_line(header, sep)
    cols = long_header(cells)
    if cols is None:
        return None
    if header_end >= 0 and _cut_truncated_last_row(data, sep, header_end,
                                                    complete_fields(cells))[1]:
        return None
    n = len(cells)
    names = [f"c{i}" for i in range(n + 1)]  # one spare for a value beyond the header
    pid = names[cells.index(cols[0])]
    text = pl.scan_csv(data, has_header=False, skip_lines=1, separator=sep,
                       schema={**dict.fromkeys(names, pl.String), pid: pl.Categorical},
                       quote_char='"',
                       truncate_ragged_lines=True, raise_if_empty=False,
                       missing_columns="insert")

    def rows_of(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.filter(pl.col(names[n]).is_null()).select(
            participant_id=pid, time=names[cells.index(cols[1])],
            glucose_mg_dl=pl.col(names[cells.index(cols[2])]).cast(pl.Float64, strict=False))

    try:  # the sample: the first rows read, less those left out (a slice before the filter)
        sample = rows_of(text.head(TIME_SAMPLE_ROWS)).collect()["time"]
        text = rows_of(text)
        fmt = fixed_time_format(sample)
        rows = text.with_columns(timestamp=time_expr(fmt), _no_time=pl.col("time").is_null()
                                 ).drop("time").collect()
        if fmt is not None and rows["timestamp"].null_count() != rows["_no_time"].sum():
            rows = text.with_columns(timestamp=time_expr(None)).drop("time").collect()
    except pl.exceptions.PolarsError:  # a record polars cannot split: inspect says where
        return None
    return rows.select("participant_id", "timestamp", "glucose_mg_dl")


def time_expr(fmt: str | None) -> pl.Expr:
    """A long CSV's ``time`` text as a datetime: ``inspect`` parses it with the format polars
    infers (``str.to_datetime(strict=False)``); with ``fmt`` (:func:`fixed_time_format`) the
    same values are parsed with that format given, seven times faster (polars' fixed-width
    parser instead of its per-value inference, and no cache of repeated texts: a CGM's times
    rarely repeat)."""
    return pl.col("time").str.to_datetime(fmt, strict=False, cache=fmt is None)


def fixed_time_format(sample: pl.Series) -> str | None:
    """The strptime format of :data:`FIXED_TIME_FORMATS` that gives the same datetimes as
    polars' inference on a long CSV's time column, or None (then inference is used).

    Polars infers the pattern family from the first value (here ISO year-month-day) and
    parses each value with the last format of that family that worked, else the first that
    works; those formats differ in what they accept (seconds, fractions, ``T`` or space),
    not in the instant they read from a value several accept. So when the first value has
    one of these fixed layouts and its format parses every value, the format gives what
    inference gives. The caller checks "every value" (no more missing times than missing
    texts, else it parses again by inference); here the format must match the first value
    and agree with inference on the sample (the column's first rows)."""
    first = sample.drop_nulls().head(1).to_list()
    if not first:
        return None
    fmt = next((f for pattern, f in FIXED_TIME_FORMATS if pattern.fullmatch(first[0])), None)
    if fmt is None:
        return None
    inferred = sample.str.to_datetime(strict=False)
    fixed = sample.str.to_datetime(fmt, strict=False)
    return fmt if fixed.dtype == inferred.dtype and fixed.equals(inferred) else None


def long_csv_metrics(rows: pl.DataFrame) -> pl.DataFrame:
    """Metrics of a long CSV's canonical rows, as :func:`metrics_via_inspect` computes them:
    rows with a time and a glucose value, no censoring, the interval per participant from
    :func:`infer_interval_min`."""
    readings = rows.lazy().filter(
        pl.col("glucose_mg_dl").is_not_null() & pl.col("timestamp").is_not_null()
    ).with_columns(censored=pl.lit(None, pl.String),
                   interval_min=infer_interval_min(pl.col("timestamp")).over("participant_id")
                   ).collect()
    return _metrics(readings)
