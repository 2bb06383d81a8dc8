"""Shared text handling for CSV exports: encoding, dialect, header line, line numbers, columns.

What real exports look like (``shared/reference/real/PROVENANCE.md``): UTF-8 with or without
BOM, or UTF-16 (LE or BE, with or without BOM); comma, semicolon or tab delimited, with every
field quoted or none; a preamble of one or two lines before the header (a title with the
patient's name, a patient line with a date of birth); rows with fewer or more fields than the
header. The character set of a file that is not plainly UTF-8 is detected by
charset-normalizer; the delimiter of a header line by Python's ``csv.Sniffer``.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import AnyStr

import charset_normalizer
import polars as pl

HEAD_BYTES = 65536   # what format detection reads of a file
MAX_PREAMBLE = 3     # lines a header may stand below the top of the file
DELIMITERS = ",;\t"


class ReadError(ValueError):
    """An export (or a request to read one) that isletflow refuses, with a message it wrote
    itself: the problem, the file name, header names and line numbers, never a value of a row.
    Any other exception met while reading is shown by its type only (``read_error_message``)."""


class ExportEncodingError(ReadError):
    """The bytes of the file are not in an encoding this export format is sent in."""


class ExportLayoutError(ReadError):
    """The header lacks a column the format requires, or has one it does not know."""


class MalformedCsvError(ReadError):
    """The CSV cannot be split into records (a quote not closed, ...): ``malformed_csv``."""


def read_error_message(err: Exception) -> str:
    """What to say about ``err``, met while reading an export, in a log, a query or on the
    screen: the message of isletflow's own ``ReadError``; for any other exception (polars',
    DuckDB's, Python's: their text can quote the file's content, e.g. a patient's name in a
    broken field) only its type, never its text."""
    if isinstance(err, ReadError):
        return str(err)
    return (f"the file could not be read ({type(err).__name__} in the reader; its message "
            "is not shown, as it may quote the file's content)")


# Python csv's errors (strict mode) -> what they mean, in words that quote nothing.
_CSV_ERRORS = (("unexpected end of data", "a quoted field is not closed"),
               ("expected after", "a closing quote is followed by more text in the same field"),
               ("field larger than field limit", "a field is longer than 131,072 characters "
                                                 "(a quote not closed?)"),
               ("NUL", "a NUL byte"))


def malformed_csv(data: bytes, sep: str, first_line_no: int,
                  n_fields: int | None = None) -> MalformedCsvError:
    """The error for CSV text that polars could not split into records: ``data`` is UTF-8 text
    from line ``first_line_no`` of the file on (the header line or the first data line),
    parsed again with Python's ``csv`` module in strict mode (a quote must be closed, and be
    followed by the delimiter or the line end) to find the first bad record and the line it
    starts on (``csv.reader.line_num``: lines read so far). With ``n_fields`` (the header's
    width, where polars refuses longer rows), a record with more fields is bad too. The
    message names the problem and the line, never the record's text (a patient's name in an
    unclosed note: "malformed CSV: a quoted field is not closed, in the record from line 3")."""
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""),
                        delimiter=sep, strict=True)
    start = first_line_no
    why = None
    try:
        for row in reader:
            if n_fields is not None and len(row) > n_fields:
                why = f"a record has {len(row)} fields, more than the header's {n_fields}"
                break
            start = first_line_no + reader.line_num
    except csv.Error as err:
        why = next((w for key, w in _CSV_ERRORS if key in str(err)),
                   "a record cannot be split into fields")
    if why is None:
        return MalformedCsvError("malformed CSV: the records cannot be split into fields (the "
                                 "bad line was not found); the file is not loaded: ask the "
                                 "site for the export as the system wrote it")
    return MalformedCsvError(f"malformed CSV: {why}, in the record from line {start}; the "
                             "file is not loaded: ask the site for the export as the system "
                             "wrote it")


@dataclass(frozen=True)
class RowProblem:
    """A row the reader could not take, with the line it stands on (and the column, when
    one column's value is the problem: REDCap values checked against the data dictionary)."""

    row_number: int
    rule: str
    value: str | None
    message: str
    column: str | None = None


def detect_encoding(head: bytes, name: str) -> str:
    """The encoding of a file from its first bytes: ``utf-8``, ``utf-8-sig`` (BOM), ``utf-16``
    (BOM), ``utf-16-le`` or ``utf-16-be`` (no BOM).

    Bytes without NUL are taken as UTF-8 (checked when decoded). Bytes with NULs are text only
    if charset-normalizer finds UTF-16 in them (LibreView wrote UTF-16LE without a BOM in
    2019); anything else with NULs is binary and refused.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" not in head:
        return "utf-8"
    guess = charset_normalizer.from_bytes(head[: len(head) // 2 * 2]).best()
    if guess is not None and guess.encoding in ("utf_16_le", "utf_16_be"):
        return guess.encoding.replace("_", "-")
    raise ExportEncodingError(f"{name}: wrong encoding: binary content (NUL bytes, not UTF-16 "
                              "text); expected a text export")


_LONE_CR = {str: re.compile(r"\r(?!\n)"), bytes: re.compile(rb"\r(?!\n)")}


def cr_line_ends_to_lf(text: AnyStr) -> AnyStr:
    """``text`` with LF line ends when its lines end in a lone CR (classic Mac OS text, as
    Excel for Mac's "CSV (Macintosh)" writes it), else ``text`` unchanged.

    The first line end decides: a CR not followed by LF, with no LF before it. Each lone CR
    then becomes one LF, so every line keeps its number (a CRLF is kept). In a file whose
    first line end is LF or CRLF, a lone CR is left alone: it is inside a quoted note.
    polars and ``csv`` end lines at LF only: unconverted, such a file is one long line.
    """
    cr, lf = ("\r", "\n") if isinstance(text, str) else (b"\r", b"\n")
    first = text.find(cr)
    if first < 0 or text[first + 1:first + 2] == lf or text.find(lf, 0, first) >= 0:
        return text
    return _LONE_CR[type(text)].sub(lf, text)


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as polars and ``read_delimited`` count them: split at LF only,
    a CRLF's CR taken off (lone-CR files are converted first: ``cr_line_ends_to_lf``).
    ``str.splitlines`` would also split at ``\\x85``, ``\\u2028``, ``\\u2029``, form feed,
    vertical tab and ``\\x1c``-``\\x1e`` inside a line, putting the header a line too low."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def decode_export(path: Path, allow_latin1: bool = False,
                  allow_utf16: bool = False) -> tuple[bytes, str]:
    """The file's content as UTF-8 bytes (BOM removed) and the encoding it was read with.

    UTF-8 (with or without BOM) always; UTF-16 only where the format is known to come that way
    (``allow_utf16``, device exports); Windows-1252/Latin-1 only where the format is known to
    come that way (``allow_latin1``, European central labs), re-encoded to UTF-8. Other
    content is refused with a message that says what was found. Lone-CR line ends are made
    LF (``cr_line_ends_to_lf``).
    """
    data = path.read_bytes()
    encoding = detect_encoding(data[:HEAD_BYTES], path.name)
    if encoding.startswith("utf-16"):
        if not allow_utf16:
            raise ExportEncodingError(f"{path.name}: wrong encoding: UTF-16 or binary content; "
                                      "expected UTF-8 text")
        try:
            return cr_line_ends_to_lf(data.decode(encoding).removeprefix("\ufeff")
                                      .encode("utf-8")), encoding
        except UnicodeDecodeError as err:
            raise ExportEncodingError(f"{path.name}: wrong encoding: not valid {encoding} at "
                                      f"byte {err.start}") from err
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        data.decode("utf-8")
        return cr_line_ends_to_lf(data), "utf-8"
    except UnicodeDecodeError as err:
        if allow_latin1:
            return cr_line_ends_to_lf(data.decode("latin-1").encode("utf-8")), "latin-1"
        raise ExportEncodingError(
            f"{path.name}: wrong encoding: byte 0x{data[err.start]:02x} at offset {err.start} "
            "is not UTF-8; expected UTF-8 text") from err


def head_text(path: Path) -> tuple[str, str]:
    """The first ``HEAD_BYTES`` of a file decoded for format detection (BOM removed; a
    character cut at the end, or a Latin-1 byte, is replaced; lone-CR line ends made LF:
    ``cr_line_ends_to_lf``), and the encoding found."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    encoding = detect_encoding(head, path.name)
    if encoding.startswith("utf-16"):
        head = head[: len(head) // 2 * 2]
    text = head.decode(encoding, errors="replace").removeprefix("\ufeff")
    return cr_line_ends_to_lf(text), encoding


def first_line(data: bytes, n: int = 1) -> str:
    """Line ``n`` (1-based) of UTF-8 ``data``, without its line end."""
    return data.split(b"\n", n)[n - 1].decode("utf-8").rstrip("\r") if data else ""


def head_lines(path: Path, n: int = 2) -> list[str]:
    """The first ``n`` lines, decoded leniently (UTF-16 too), for format detection."""
    text, _ = head_text(path)
    lines = split_lines(text)[:n]
    return lines + [""] * (n - len(lines))


@functools.lru_cache(maxsize=512)  # detection and reader look at the same top lines
def sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: comma, semicolon or tab, as ``csv.Sniffer`` finds it
    (quoted names are respected: ``"Choices, Calculations",...`` is comma-delimited). A line
    it cannot decide on (a single name) gets the delimiter it holds most of, else ``,``."""
    try:  # the start of a line decides; a REDCap header can run to tens of kilobytes
        return csv.Sniffer().sniff(header[:8192], delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def split_line(line: str, delimiter: str) -> list[str]:
    """The cells of one CSV line, unquoted, without BOM and surrounding spaces."""
    try:
        cells = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        cells = line.split(delimiter)
    return [c.replace("\ufeff", "").strip() for c in cells]


def shape(text: str, limit: int = 40) -> str:
    """What ``text`` looks like without what it says, for messages about content that cannot be
    read (it may be a patient's name): every letter ``A``, every digit ``9``, other characters
    (delimiters, spaces, punctuation) kept; at most ``limit`` characters of ``text``, ``...``
    marking a cut. ``Patiëntnaam<TAB>Jan Jansen`` -> ``AAAAAAAAAAA<TAB>AAA AAAAAA``."""
    out = "".join("A" if c.isalpha() else "9" if c.isdigit() else c for c in text[:limit])
    return out + ("..." if len(text) > limit else "")


@dataclass(frozen=True)
class TextLayout:
    """Where a delimited export's header is and how its lines are split."""

    delimiter: str
    header_line: int                 # 1-based line of the header (after a preamble)
    header: tuple[str, ...]          # the header's cells, unquoted


def find_header(lines: Sequence[str], is_header: Callable[[list[str]], bool]
                ) -> TextLayout | None:
    """The first of the top lines (a preamble of up to ``MAX_PREAMBLE`` lines, padded with
    delimiters or not) that ``is_header`` accepts, with its delimiter; None if none does.
    The preamble's cells are never kept: they hold names and dates of birth."""
    for i, line in enumerate(lines[: MAX_PREAMBLE + 1]):
        if not line.strip():
            continue
        delimiter = sniff_delimiter(line)
        cells = split_line(line, delimiter)
        if is_header(cells):
            return TextLayout(delimiter, i + 1, tuple(cells))
    return None


_UNIT = re.compile(r"^(?P<base>.*?)\s*\(?(?P<unit>mg/dl|mmol/l)(?:/min)?\)?$", re.IGNORECASE)
_UNITS = {"mg/dl": "mg/dL", "mmol/l": "mmol/L"}


def header_key(cell: str) -> tuple[str, str | None]:
    """A header name as the alias tables hold it, and the glucose unit it carries.

    The unit is taken off the end however it is written (``Historic Glucose mg/dL``,
    ``Historic Glucose(mg/dL)``, ``Historic Glucose (mmol/L)``, ``Glucose Rate of Change
    (mg/dL/min)``); the rest is case-folded with single spaces: ``historic glucose``.
    """
    name = " ".join(cell.replace("\ufeff", "").split())
    m = _UNIT.match(name)
    if m is None:
        return name.casefold(), None
    return m["base"].casefold(), _UNITS[m["unit"].lower()]


PERSONAL = "(personal)"
NOT_LOADED = "(not loaded)"


@dataclass(frozen=True)
class HeaderMatch:
    """A header matched against a format's alias tables."""

    keep: dict[int, str]             # header position -> raw column
    personal: list[str]              # header names of personal-data columns (never read)
    unit: str | None                 # glucose unit of the glucose columns
    names: dict[str, str]            # raw column -> the header name it came from


@dataclass(frozen=True)
class ColumnAliases:
    """One alias table per canonical (raw) column: every header name an app generation or
    language writes for it, case-folded and without the unit (see :func:`header_key`).

    ``personal`` names columns that carry personal data or free text (names, dates of birth,
    serials, notes): they are never read. ``not_loaded`` names known columns the warehouse
    does not keep. Any other name is an unknown column and the file is refused, so that a
    renamed or new column (which might hold personal data) is never loaded unseen.
    """

    fmt: str
    columns: Mapping[str, tuple[str, ...]]
    personal: tuple[str, ...]
    not_loaded: tuple[str, ...]
    unit_columns: tuple[str, ...]    # raw columns whose header names the glucose unit
    signature: tuple[str, ...]       # raw columns whose presence identifies the format
    required: tuple[str, ...]
    # header names (as header_key gives them) of a last column that rows may end before
    optional_last: tuple[str, ...] = ()
    roles: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        roles = {a: col for col, names in self.columns.items() for a in names}
        roles.update(dict.fromkeys(self.personal, PERSONAL))
        roles.update(dict.fromkeys(self.not_loaded, NOT_LOADED))
        object.__setattr__(self, "roles", roles)

    def is_header(self, cells: list[str]) -> bool:
        """Whether ``cells`` hold every signature column of this format."""
        found = {self.roles.get(header_key(c)[0]) for c in cells}
        return all(col in found for col in self.signature)

    def unknown_names(self, cells: Sequence[str]) -> list[str]:
        """The non-empty header names in ``cells`` that no alias table of this format holds."""
        return [c for c in cells if header_key(c)[0] and header_key(c)[0] not in self.roles]

    def personal_columns(self, cells: Sequence[str]) -> list[str]:
        """The header names in ``cells`` that are personal data (dropped by the reader)."""
        return [c for c in cells if self.roles.get(header_key(c)[0]) == PERSONAL]

    def match(self, name: str, cells: Sequence[str]) -> HeaderMatch:
        """Map a header to raw columns; refuse unknown, doubled or missing required columns
        and glucose columns in two units. ``name`` is the file name, for messages."""
        keep: dict[int, str] = {}
        names: dict[str, str] = {}
        personal, unknown, units = [], [], set()
        for i, cell in enumerate(cells):
            key, unit = header_key(cell)
            role = self.roles.get(key)
            if role is None:
                if key:  # an empty name is the trailing delimiter of a padded header
                    unknown.append(cell)
            elif role == PERSONAL:
                personal.append(cell)
            elif role != NOT_LOADED:
                if role in names:
                    raise ExportLayoutError(f"{name}: {self.fmt} header has two {role} columns "
                                            f"({names[role]!r}, {cell!r})")
                keep[i], names[role] = role, cell
                if role in self.unit_columns and unit:
                    units.add(unit)
        if unknown:
            raise ExportLayoutError(f"{name}: unexpected {self.fmt} column(s) {unknown}")
        require_columns(Path(name), list(names), list(self.required), self.fmt)
        if len(units) > 1:
            raise ExportLayoutError(f"{name}: {self.fmt} glucose columns in two units "
                                    f"{sorted(units)}")
        return HeaderMatch(keep, personal, units.pop() if units else None, names)


def _line_starts(data: bytes, n: int) -> int:
    """Byte offset where line ``n`` (1-based) of ``data`` starts."""
    pos = 0
    for _ in range(n - 1):
        pos = data.index(b"\n", pos) + 1
    return pos


def complete_fields(header: Sequence[str], optional_last: Sequence[str] = ()) -> int:
    """The fewest fields a complete row has: the header's names without trailing empty ones
    (the trailing delimiters of a padded header), less the last name when rows may end before
    it (``ColumnAliases.optional_last``: a 14-column Clarity export writes its metadata, alert,
    insulin, carbs and exercise rows with 13 fields, without the Transmitter ID field)."""
    names = list(header)
    while names and not names[-1].strip():
        names.pop()
    if names and header_key(names[-1])[0] in optional_last:
        return len(names) - 1
    return len(names)


def _cut_truncated_last_row(data: bytes, sep: str, header_end: int, min_fields: int
                            ) -> tuple[bytes, list[RowProblem]]:
    """A last line cut off mid-row (no line end, fewer than ``min_fields`` fields: see
    :func:`complete_fields`) is taken off ``data`` and returned as a ``truncated_row``
    problem, so it is quarantined by line. ``header_end``: offset of the header's line end."""
    if not data or data.endswith(b"\n"):
        return data, []
    cut = data.rfind(b"\n")
    if cut < header_end:  # the last line is the header
        return data, []
    last = next(csv.reader([data[cut + 1:].decode("utf-8")], delimiter=sep), [])
    if len(last) >= min_fields:
        return data, []
    # only the first field as the value: later fields may hold personal data
    return data[:cut + 1], [RowProblem(data.count(b"\n", 0, cut + 1) + 1, "truncated_row",
                                       last[0][:40] if last else None,
                                       f"the file ends mid-row: {len(last)} fields, a complete "
                                       f"row has at least {min_fields}; the row is not loaded")]


def _record_lines(data: bytes, start: int, sep: str, first_line_no: int,
                  n_records: int) -> list[int] | None:
    """Line numbers of the records of ``data[start:]`` (the data after the header) when they
    are not one per line (a quoted field holding a line break, as LibreView notes can); None
    when every record is one line (the common case, checked by counting line ends)."""
    n_lines = data.count(b"\n", start) + (0 if len(data) <= start or data.endswith(b"\n")
                                          else 1)
    if n_lines == n_records:
        return None
    reader = csv.reader(io.StringIO(data[start:].decode("utf-8"), newline=""), delimiter=sep)
    starts, seen = [], 0
    for _ in reader:  # a blank line is a record of nulls to polars too
        starts.append(first_line_no + seen)
        seen = reader.line_num
    return starts


def read_csv_text(data: bytes, sep: str, header_line: int = 1
                  ) -> tuple[pl.DataFrame, list[RowProblem]]:
    """All-text frame of UTF-8 CSV ``data`` whose header is line ``header_line``;
    ``row_number`` is the line of each record (header_line + 1 for the first).

    A last line cut off mid-row (no line end, fewer fields than the header) is not kept:
    it is returned as a ``truncated_row`` problem so it can be quarantined by line number.
    """
    header_end = _line_starts(data, header_line + 1) - 1 if data.count(b"\n") >= header_line \
        else len(data)
    header = data[_line_starts(data, header_line):header_end].rstrip(b"\r").decode("utf-8")
    data, problems = _cut_truncated_last_row(
        data, sep, header_end, complete_fields(next(csv.reader([header], delimiter=sep), [])))
    try:
        df = pl.read_csv(data, separator=sep, infer_schema=False, skip_lines=header_line - 1,
                         row_index_name="row_number", row_index_offset=header_line + 1,
                         quote_char='"')
    except pl.exceptions.PolarsError:  # its text quotes the bad field: never passed on
        raise malformed_csv(data[_line_starts(data, header_line):], sep, header_line,
                            len(next(csv.reader([header], delimiter=sep), []))) from None
    lines = _record_lines(data, header_end + 1, sep, header_line + 1, df.height)
    if lines is not None:
        df = df.with_columns(row_number=pl.Series(lines))
    return df.with_columns(pl.col("row_number").cast(pl.Int64)), problems


def read_delimited(data: bytes, layout: TextLayout, keep: Mapping[int, str],
                   optional_last: Sequence[str] = ()) -> tuple[pl.DataFrame, list[RowProblem]]:
    """The columns ``keep`` (header position -> raw name) of UTF-8 ``data`` laid out as
    ``layout``, all text, with ``row_number`` = the line of each record in the file.

    Only the kept columns are parsed (personal-data columns never reach memory as values).
    Rows shorter than the header get nulls in the missing cells. Rows longer than the header
    (LibreView's trailing comma) are read when the extra fields are empty; a row whose extra
    field holds a value is not loaded and is returned as an ``extra_fields`` problem.
    A truncated last row is a ``truncated_row`` problem (see :func:`read_csv_text`; rows may
    end before a last column named in ``optional_last``: :func:`complete_fields`).
    """
    sep = layout.delimiter
    start = _line_starts(data, layout.header_line)
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end
    data, problems = _cut_truncated_last_row(data, sep, end,
                                             complete_fields(layout.header, optional_last))
    n = len(layout.header)
    names = [f"c{i}" for i in range(n + 1)]  # plain names; one spare for extra fields
    text = b"".join([sep.join(names).encode(), memoryview(data)[end:]])  # header replaced
    try:
        df = pl.read_csv(text, separator=sep,
                         infer_schema=False, columns=[names[i] for i in keep] + [names[n]],
                         row_index_name="row_number", row_index_offset=layout.header_line + 1,
                         quote_char='"', truncate_ragged_lines=True, raise_if_empty=False)
    except pl.exceptions.PolarsError:  # its text quotes the bad field: never passed on
        raise malformed_csv(data[end + 1:], sep, layout.header_line + 1) from None
    lines = _record_lines(data, end + 1, sep, layout.header_line + 1, df.height)
    if lines is not None:
        df = df.with_columns(row_number=pl.Series(lines))
    extra = df.filter(pl.col(names[n]).is_not_null())
    problems += [RowProblem(r, "extra_fields", None, f"the row has more fields than the "
                            f"{n}-column header and a value beyond it; the row is not loaded")
                 for r in extra["row_number"]]
    if extra.height:
        df = df.filter(pl.col(names[n]).is_null())
    return (df.drop(names[n]).rename({names[i]: col for i, col in keep.items()})
            .with_columns(pl.col("row_number").cast(pl.Int64))), problems


def read_device_export(path: Path, aliases: ColumnAliases
                       ) -> tuple[pl.DataFrame, list[RowProblem], HeaderMatch]:
    """A CGM device export read by its alias tables: decoded (UTF-8 or UTF-16), its header
    found below any preamble, matched, and its known columns read as text (every column of
    ``aliases.columns``, null where the export lacks it), with ``glucose_unit`` from the
    header and ``decimal_mark``: ``,`` when the export is semicolon-delimited or a mmol/L
    glucose value holds a comma (the German Clarity export writes ``5,5``, the Spanish Libre
    report ``"5,7"``), else ``.``. mg/dL values are whole numbers, and in a comma-delimited
    file a decimal comma must be quoted, so only then are the values searched."""
    data, _ = decode_export(path, allow_utf16=True)
    layout = find_header(split_lines(data[:HEAD_BYTES].decode("utf-8", errors="replace")),
                         aliases.is_header)
    if layout is None:
        raise ExportLayoutError(f"{path.name}: no {aliases.fmt} header in the first lines")
    header = aliases.match(path.name, layout.header)
    if header.unit is None:
        raise ExportLayoutError(f"{path.name}: no glucose unit (mg/dL or mmol/L) in the header")
    df, problems = read_delimited(data, layout, header.keep, aliases.optional_last)
    df = df.with_columns([pl.lit(None, pl.String).alias(c) for c in aliases.columns
                          if c not in df.columns])
    comma = layout.delimiter == ";" or (
        header.unit == "mmol/L" and (layout.delimiter != "," or b'"' in data)
        and df.select(pl.any_horizontal(pl.col(c).str.contains(",", literal=True).any()
                                        for c in aliases.unit_columns)).item())
    return (df.with_columns(glucose_unit=pl.lit(header.unit),
                            decimal_mark=pl.lit("," if comma else ".")), problems, header)


def require_columns(path: Path, present: list[str], required: list[str], fmt: str) -> None:
    missing = [c for c in required if c not in present]
    if missing:
        raise ExportLayoutError(f"{path.name}: {fmt} export lacks column(s) {missing} "
                                "(renamed or removed?)")
