"""Discover site exports under the landing folder (``<site_id>/<cgm|edc|lab>/<export>``).

Everything found in the landing folder is either loaded or reported (a LandingProblem, which
becomes a query in quality.issues and the site's listing): nothing is skipped without a word.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from isletflow.readers.archive import COMPRESSED_SUFFIXES, EXPORT_SUFFIXES, inner_suffix

KINDS = ("cgm", "edc", "lab")
# The export types each landing sub-folder takes, plain or compressed (``.gz``, or a ``.zip``
# holding one export: isletflow/readers/archive.py). Device software writes ``.txt`` (Dexcom
# Clarity G5) and ``.tsv`` (FreeStyle Libre desktop) as well as ``.csv``.
SUFFIXES_BY_KIND = {"cgm": EXPORT_SUFFIXES, "edc": (".csv",), "lab": (".csv",)}
# What editors, uploads and operating systems leave next to exports: never exports themselves.
TEMP_PREFIXES = (".", "~")  # hidden files; "~$x.csv" (Office lock), "~x.tmp"
TEMP_SUFFIXES = ("~", ".tmp", ".temp", ".part", ".partial", ".filepart", ".crdownload",
                 ".download", ".swp", ".lock")
SYSTEM_NAMES = {"thumbs.db", "desktop.ini", "__macosx", "icon\r"}
# What a site may send instead of an export, and what to ask for.
TYPE_HINTS = {".xlsx": "an Excel workbook", ".xls": "an Excel workbook",
              ".xlsm": "an Excel workbook", ".ods": "a spreadsheet", ".pdf": "a PDF report",
              ".doc": "a Word document", ".docx": "a Word document", ".json": "a JSON file",
              ".xml": "an XML file", ".7z": "a 7-Zip archive", ".rar": "a RAR archive",
              ".tar": "a tar archive", ".tgz": "a tar archive", ".bz2": "a bzip2 archive",
              ".xz": "an xz archive"}


@dataclass(frozen=True)
class LandingFile:
    """One export as received: where it is, what it is by the landing contract, its hash."""

    path: Path
    rel_path: str
    site_id: str
    kind: str
    participant_id: str | None
    sha256: str
    size_bytes: int
    received_at: dt.datetime  # modification time, UTC, naive

    @property
    def file_id(self) -> str:
        """Stable id of the content: the first 16 hex digits of its sha256."""
        return self.sha256[:16]


@dataclass(frozen=True)
class LandingProblem:
    """Something in the landing folder that is not loaded, and why (a query in quality.issues
    and the site's listing, never skipped silently). ``severity`` is "warning" for what is
    most likely not an export at all (hidden and temporary files)."""

    rel_path: str
    site_id: str | None
    rule: str
    message: str
    severity: str = "error"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_hidden_or_temp(name: str) -> bool:
    """A hidden file, or one an editor, upload or operating system leaves next to exports:
    ``.DS_Store``, ``~$export.csv`` (Office lock file), ``export.csv.filepart`` (an upload in
    progress), ``Thumbs.db``."""
    low = name.lower()
    return low.startswith(TEMP_PREFIXES) or low.endswith(TEMP_SUFFIXES) or low in SYSTEM_NAMES


def _looks_like_a_file(name: str) -> bool:
    low = name.lower()
    return (inner_suffix(low) is not None or low.endswith(COMPRESSED_SUFFIXES)
            or low.endswith(tuple(TYPE_HINTS)))


def _type_problem(name: str, kind: str) -> str | None:
    """Why a file of this name is not read from ``<kind>/``, or None if it is."""
    low = name.lower()
    accepted = SUFFIXES_BY_KIND[kind]
    if low.endswith(".zip") or inner_suffix(low) in accepted:
        return None
    ext = Path(low[:-3] if low.endswith(".gz") else low).suffix
    what = TYPE_HINTS.get(ext, f"a {ext} file" if ext else "a file without extension")
    return (f"{what} is not an export isletflow reads in {kind}/ "
            f"({', '.join(accepted)}, each also as .gz or alone in a .zip); "
            "ask the site for the export as the device or EDC wrote it")


def _files_under(folder: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(folder))


def _why(err: OSError) -> str:
    return "permission denied" if isinstance(err, PermissionError) else (
        err.strerror or type(err).__name__).lower()


def scan_landing(landing_dir: Path, known_sites: set[str], sites: tuple[str, ...] | None = None,
                 as_of: dt.date | None = None) -> tuple[list[LandingFile], list[LandingProblem]]:
    """Every export under ``landing_dir`` that this run should load, and the problems.

    Layout (DESIGN.md, "Contracts"): ``<site_id>/cgm/<participant_id>__<free text>.csv`` (or
    ``.txt``, ``.tsv``), ``<site_id>/edc/*.csv``, ``<site_id>/lab/*.csv``; any of them may
    come as ``.gz`` or as a ``.zip`` holding that one export (unpacked when read:
    isletflow/readers/archive.py; the hash is the received file's). ``sites`` restricts to
    those sites; ``as_of`` keeps what was received (modified) on or before that date (UTC). A
    file whose content was already seen under another name is reported as a duplicate, not
    loaded twice. Of files with the same content, the first received (then the first by path)
    is loaded.

    Everything else is a problem with its own rule: a hidden or temporary file (warning), a
    broken link, a folder inside a cgm/, edc/ or lab/ folder or named like a file (reported
    once, not read), a file that cannot be opened, a type that is not an export, something that
    is not a regular file, and files outside the layout. Links are followed to what they name;
    folders are entered only at the site and cgm/edc/lab levels, so no link can make a loop.
    Files and problems are returned sorted by relative path, so a run is deterministic.
    """
    if not landing_dir.is_dir():
        raise FileNotFoundError(f"landing folder {landing_dir} does not exist")
    files: list[LandingFile] = []
    problems: list[LandingProblem] = []

    def received_at(st: os.stat_result) -> dt.datetime:
        return dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(tzinfo=None)

    def report(path: Path, st: os.stat_result, rule: str, message: str,
               severity: str = "error") -> None:
        if as_of and received_at(st).date() > as_of:
            return
        rel = path.relative_to(landing_dir).as_posix()
        site = rel.split("/")[0] if "/" in rel else None
        problems.append(LandingProblem(rel, site if site in known_sites else None, rule,
                                       message, severity))

    def visit(folder: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            report(folder, folder.lstat(), "cannot_open_folder",
                   f"the folder cannot be opened ({_why(err)}); the files in it are not read")
            return
        for e in entries:
            path = Path(e.path)
            if depth == 1 and sites and e.name not in sites:
                continue  # another site, or a file beside the site folders
            lst = path.lstat()
            if is_hidden_or_temp(e.name):
                report(path, lst, "hidden_or_temp_file",
                       "a hidden or temporary " + ("folder" if e.is_dir() else "file")
                       + " (system metadata, a lock file or an upload in progress) is not "
                       "read; if it holds an export, send it under a plain name", "warning")
                continue
            try:
                st = path.stat()  # follows a link to what it names
            except OSError as err:
                if e.is_symlink():
                    report(path, lst, "broken_link", "a link to a file that does not exist "
                           "(moved or deleted?); send the export itself")
                else:
                    report(path, lst, "cannot_open_file",
                           f"the file cannot be opened ({_why(err)})")
                continue
            if os.path.isdir(path):
                if _looks_like_a_file(e.name):
                    report(path, st, "folder_named_like_file",
                           f"a folder named like an export ({_files_under(path)} files in it) "
                           "is not read; send the export file itself")
                elif depth <= 2:
                    visit(path, depth + 1)
                elif n := _files_under(path):
                    report(path, st, "landing_layout",
                           f"a folder inside {path.parent.name}/ ({n} files in it) is not "
                           "read; put each export directly in <site_id>/<cgm|edc|lab>/")
                continue
            if not os.path.isfile(path):
                report(path, st, "not_a_regular_file",
                       "not a regular file (a device, pipe or socket); nothing is read")
                continue
            classify(path, st)

    def classify(path: Path, st: os.stat_result) -> None:
        rel = path.relative_to(landing_dir).as_posix()
        parts = rel.split("/")
        site = parts[0] if len(parts) > 1 else None
        if as_of and received_at(st).date() > as_of:
            return
        if len(parts) != 3 or site not in known_sites or parts[1] not in KINDS:
            report(path, st, "landing_layout",
                   "not under <site_id>/<cgm|edc|lab>/ of a known site")
            return
        kind = parts[1]
        if why := _type_problem(path.name, kind):
            report(path, st, "unknown_file_type", why)
            return
        participant = None
        if kind == "cgm":
            participant = path.name.split("__")[0] if "__" in path.name else None
            if participant is None:
                report(path, st, "cgm_file_name",
                       "CGM file name must be <participant_id>__*.csv (or .txt, .tsv)")
                return
        try:
            sha = sha256_of(path)
        except OSError as err:
            report(path, st, "cannot_open_file", f"the file cannot be opened ({_why(err)}); "
                   "ask for it to be copied again, readable")
            return
        files.append(LandingFile(path, rel, site, kind, participant, sha, st.st_size,
                                 received_at(st)))

    visit(landing_dir, 1)
    unique: dict[str, LandingFile] = {}
    for f in sorted(files, key=lambda f: (f.received_at, f.rel_path)):
        if f.sha256 in unique:
            problems.append(LandingProblem(f.rel_path, f.site_id, "duplicate_file",
                                           f"same content as {unique[f.sha256].rel_path}; "
                                           "not loaded again"))
        else:
            unique[f.sha256] = f
    return (sorted(unique.values(), key=lambda f: f.rel_path),
            sorted(problems, key=lambda p: (p.rel_path, p.rule)))
