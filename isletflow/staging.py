"""Stage one export: parse it once into a Parquet partition keyed by its sha256."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from isletflow.landing import LandingFile
from isletflow.trial import load_trial
from isletflow.readers import (FORMATS, ExportEncodingError, ExportLayoutError, RowProblem,
                               UnknownFormatError, read_error_message, read_export)
from isletflow.readers.redcap_dictionary import RedcapDictionary, is_redcap_dictionary
from isletflow.readers.archive import ArchiveError, plain_export

# The REDCap fields a trial collects, per form (isletflow.trial.Trial.redcap_fields).
RedcapFields = dict[str, tuple[str, ...]]

# The export formats a site may send in each landing sub-folder.
FORMATS_BY_KIND = {"cgm": ("dexcom_clarity", "libreview"),
                   "edc": ("redcap", "redcap_dictionary"), "lab": ("central_lab",)}


@dataclass(frozen=True)
class StagedFile:
    """The outcome of staging one file: its Parquet partition, or why it could not be read."""

    file_id: str
    export_format: str | None
    parquet: Path | None
    n_rows: int
    error: str | None = None
    error_rule: str | None = None
    problems: tuple[RowProblem, ...] = field(default_factory=tuple)
    cached: bool = False


def staged_path(stage_dir: Path, fmt: str, sha256: str,
                dictionary: LandingFile | None = None,
                redcap_fields: RedcapFields | None = None) -> Path:
    """``stage/<format>/<sha256>.parquet``; a REDCap export's rows depend on the fields the
    trial keeps (``redcap_fields``, default the sample trial's) and on the site's data
    dictionary it is read with: ``<sha256>.fields-<digest>[.dict-<dictionary sha256>].parquet``,
    so a new dictionary or another trial's field list stages the export again, and two trials
    sharing a stage folder never read each other's partition (the old one stays valid for a
    run that uses it, e.g. an as-of cut)."""
    if fmt != "redcap":
        return stage_dir / fmt / f"{sha256}.parquet"
    name = f"{sha256}.fields-{_fields_digest(redcap_fields)}"
    if dictionary is not None:
        name += f".dict-{dictionary.sha256}"
    return stage_dir / fmt / f"{name}.parquet"


def trial_fields(redcap_fields: RedcapFields | None) -> RedcapFields:
    """``redcap_fields``, or when None the sample trial's (trials/islet-101.toml, read once):
    the default of the single-file tools and tests; the nightly always passes its trial's."""
    return redcap_fields if redcap_fields is not None else _sample_fields()


@functools.cache
def _sample_fields() -> RedcapFields:
    return load_trial().redcap_fields


def _fields_digest(redcap_fields: RedcapFields | None) -> str:
    fields = trial_fields(redcap_fields)
    text = repr(sorted((k, tuple(v)) for k, v in fields.items())).encode()
    return hashlib.sha256(text).hexdigest()[:8]


def is_staged(stage_dir: Path, sha256: str, dictionary: LandingFile | None = None,
              redcap_fields: RedcapFields | None = None) -> bool:
    """A partition of this content (with this REDCap dictionary) exists, written by the
    current reader code (for a REDCap export: keeping ``redcap_fields``, default the sample
    trial's)."""
    fields = trial_fields(redcap_fields)
    return any(p.exists() and pl.read_parquet_metadata(p).get("reader_code")
               == reader_code(fmt, fields)
               for fmt, p in ((fmt, staged_path(stage_dir, fmt, sha256, dictionary, fields))
                              for fmt in FORMATS))


def site_dictionaries(files: list[LandingFile]) -> dict[str, LandingFile]:
    """Each site's REDCap data dictionary: of the ``edc/`` files whose first line is the
    dictionary's 18-column header, the one received last (then the last by path). The
    files are those of this run (``scan_landing`` has applied ``as_of``), so an as-of cut
    uses the dictionary the site had sent by then."""
    found = sorted((f for f in files if f.kind == "edc" and _readable_dictionary(f.path)),
                   key=lambda f: (f.received_at, f.rel_path))
    return {f.site_id: f for f in found}


def _readable_dictionary(path: Path) -> bool:
    """A REDCap data dictionary that reads (a broken one is reported when it is staged, and
    is not used to read the site's exports)."""
    if not is_redcap_dictionary(path):
        return False
    try:
        RedcapDictionary.from_file(path)
    except (ValueError, pl.exceptions.PolarsError):
        return False
    return True


def dictionary_for(f: LandingFile, dictionaries: dict[str, LandingFile]) -> LandingFile | None:
    """The dictionary ``stage_export`` reads ``f`` with: its site's, for an ``edc/`` file
    other than the dictionary itself; None for every other file."""
    d = dictionaries.get(f.site_id) if f.kind == "edc" else None
    return d if d is not None and d.sha256 != f.sha256 else None


def _reader_code() -> str:
    """A digest of the code that turns an export into its partition: a new reader re-stages."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for p in [here / "staging.py", *sorted((here / "readers").glob("*.py"))]:
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


READER_CODE = _reader_code()


def reader_code(fmt: str | None, redcap_fields: RedcapFields) -> str:
    """What a partition of format ``fmt`` was written by: the reader code, and for a REDCap
    export also the fields the trial keeps (a field the trial now reads re-stages it)."""
    if fmt != "redcap":
        return READER_CODE
    return f"{READER_CODE}-{_fields_digest(redcap_fields)}"


# Every rule of a file that staging cannot read (``StagedFile.error_rule``): such a file is not
# loaded at all (sql/quality/quarantine_by_site.sql counts it among the files not loaded).
ERROR_RULES = ("empty_file", "unreadable_archive", "unknown_format", "wrong_encoding",
               "missing_or_renamed_column", "unreadable_file", "format_not_expected_here",
               "header_only")


def _rule_of(err: Exception) -> str:
    for kind, rule in ((ArchiveError, "unreadable_archive"),
                       (UnknownFormatError, "unknown_format"),
                       (ExportEncodingError, "wrong_encoding"),
                       (ExportLayoutError, "missing_or_renamed_column")):
        if isinstance(err, kind):
            return rule
    return "unreadable_file"


def stage_export(f: LandingFile, stage_dir: Path, refresh: bool = False,
                 dictionary: LandingFile | None = None,
                 redcap_fields: RedcapFields | None = None) -> StagedFile:
    """Read ``f`` with the reader its content calls for and write ``stage/<format>/<sha>.parquet``.

    ``dictionary``: the site's REDCap data dictionary (``dictionary_for``); a REDCap export
    is read with it, its partition is named after both files (``staged_path``) and its rows
    carry the dictionary's file id (``dictionary_file_id``) as lineage of their typing.
    A REDCap export keeps the trial's fields only (``redcap_fields``, form -> fields, from
    :attr:`isletflow.trial.Trial.redcap_fields`; default the sample trial's): the others are
    dropped by name, never stored, and named in one file-level note
    (``redcap_fields_not_collected``); a trial field dropped as personal data is a warning of
    its own (``redcap_trial_field_dropped``; readers/redcap.py).

    An unchanged file (same sha256) is not parsed again unless ``refresh`` or the reader code
    has changed since it was staged (:func:`reader_code` in the partition's metadata). A file
    that cannot be read is not an exception: the returned record carries the error and its rule
    for quality.issues: isletflow's own message, or for a library's exception its type only
    (``read_error_message``: polars' text quotes the field it could not parse). Rows the reader
    could not take (a truncated last row) travel with it; a file all of whose rows were refused
    is staged with zero rows and those problems (never called header-only).
    """
    redcap_fields = trial_fields(redcap_fields)
    if not refresh:
        for fmt in FORMATS:
            p = staged_path(stage_dir, fmt, f.sha256, dictionary, redcap_fields)
            if p.exists():
                meta = pl.read_parquet_metadata(p)
                if meta.get("reader_code") != reader_code(fmt, redcap_fields):
                    break  # written by other reader code: parse the file again
                problems = tuple(RowProblem(**d) for d in json.loads(meta.get("problems", "[]")))
                n = pl.scan_parquet(p).select(pl.len()).collect().item()
                return StagedFile(f.file_id, fmt, p, n, problems=problems, cached=True)
    if f.size_bytes == 0:
        return StagedFile(f.file_id, None, None, 0, error="empty file (0 bytes)",
                          error_rule="empty_file")
    try:
        with plain_export(f.path) as plain:  # a .gz, or a .zip of one export: unpacked
            fmt, df, problems = read_export(plain, dictionary.path if dictionary else None,
                                            redcap_fields=redcap_fields)
    except (ValueError, pl.exceptions.PolarsError) as err:
        return StagedFile(f.file_id, None, None, 0, error=read_error_message(err),
                          error_rule=_rule_of(err))
    if fmt not in FORMATS_BY_KIND[f.kind]:
        return StagedFile(f.file_id, fmt, None, 0, error_rule="format_not_expected_here",
                          error=f"a {fmt} file in the {f.kind}/ folder; expected "
                                f"{' or '.join(FORMATS_BY_KIND[f.kind])}")
    if df.height == 0 and not problems:
        # (a file whose rows the reader all refused is staged empty with their problems, e.g.
        # REDCap rows without a record id; so is a REDCap export whose fields were all
        # dropped, with its file-level problems: fields the trial does not collect, ...)
        return StagedFile(f.file_id, fmt, None, 0, error_rule="header_only",
                          error="the file has a header but no data rows")
    if fmt == "redcap":
        df = df.with_columns(dictionary_file_id=pl.lit(dictionary.file_id if dictionary
                                                       else None, pl.String))
    p = staged_path(stage_dir, fmt, f.sha256, dictionary, redcap_fields)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".parquet.tmp")
    problems_json = json.dumps([pr.__dict__ for pr in problems])
    df.insert_column(0, pl.lit(f.file_id).alias("file_id")).write_parquet(
        tmp, compression="lz4", metadata={"problems": problems_json,
                               "reader_code": reader_code(fmt, redcap_fields)})
    tmp.replace(p)
    return StagedFile(f.file_id, fmt, p, df.height, problems=tuple(problems))
