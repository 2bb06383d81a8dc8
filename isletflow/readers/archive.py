"""Compressed exports: a ``.gz`` file or a ``.zip`` holding one export, read as the export inside.

Sites send exports compressed (a gzip'd CSV, or the zip their e-mail or upload tool made). This
is the one place that opens them: :func:`plain_export` gives the readers a plain file, so the
nightly staging and ``isletflow inspect`` read a compressed export exactly like its content.
The landing record (name, sha256, size) stays that of the file as received.

A zip is read when it holds exactly one export (``.csv``, ``.txt`` or ``.tsv``), not counting
folders and the metadata archivers add (``__MACOSX/``, hidden files such as ``.DS_Store``).
Several files, none, another type, a password, a corrupt or truncated archive, or one that
unpacks to more than :data:`MAX_UNPACKED_BYTES` is an :class:`ArchiveError` (a file-level
query). Messages never name the files inside: device exports are often named after the patient.
"""

from __future__ import annotations

import gzip
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from isletflow.readers.text import ReadError

# The export types read inside an archive (and, in cgm/, as plain files).
EXPORT_SUFFIXES = (".csv", ".txt", ".tsv")
COMPRESSED_SUFFIXES = (".gz", ".zip")
# Largest export unpacked (1 GiB): the largest real CGM export is a few tens of MB; more is a
# zip bomb or not an export, and is refused before it fills the disk.
MAX_UNPACKED_BYTES = 1 << 30


class ArchiveError(ReadError):
    """A compressed export that cannot be read as exactly one export."""


def is_compressed(path: Path) -> bool:
    return path.suffix.lower() in COMPRESSED_SUFFIXES


def inner_suffix(name: str) -> str | None:
    """The export type a file name promises: ``.csv`` for ``x.csv`` and ``x.csv.gz``; None
    for a ``.zip`` (known only once opened) and for a ``.gz`` of no export type."""
    p = PurePosixPath(name.lower())
    if p.suffix == ".gz":
        p = PurePosixPath(p.stem)
    return p.suffix if p.suffix in EXPORT_SUFFIXES else None


def _zip_member(zf: zipfile.ZipFile) -> zipfile.ZipInfo:
    """The one export in ``zf``, or an ArchiveError saying what the zip holds instead."""
    members = [m for m in zf.infolist() if not m.is_dir()
               and not m.filename.startswith("__MACOSX/")
               and not PurePosixPath(m.filename).name.startswith(".")]
    if len(members) != 1:
        _refuse(f"the zip holds {len(members)} files; send one export per zip"
                if members else "the zip holds no file")
    m = members[0]
    suffix = PurePosixPath(m.filename.lower()).suffix
    if suffix not in EXPORT_SUFFIXES:
        _refuse(f"the zip holds a {suffix or 'file without extension'}, not an export "
                f"({', '.join(EXPORT_SUFFIXES)})")
    if m.flag_bits & 0x1:
        _refuse("the zip is password-protected; send it without a password")
    if m.file_size > MAX_UNPACKED_BYTES:
        _refuse(f"the export in the zip unpacks to more than {MAX_UNPACKED_BYTES >> 20} MB")
    return m


def _refuse(message: str) -> None:
    raise ArchiveError(message)


def _copy_capped(src, dst) -> None:
    copied = 0
    while chunk := src.read(1 << 20):
        copied += len(chunk)
        if copied > MAX_UNPACKED_BYTES:
            _refuse(f"the export unpacks to more than {MAX_UNPACKED_BYTES >> 20} MB")
        dst.write(chunk)


@contextmanager
def plain_export(path: Path) -> Iterator[Path]:
    """``path`` itself for a plain export; for a ``.gz`` or ``.zip`` the export inside,
    unpacked to a private temporary folder that is removed on exit. The unpacked file is named
    after ``path`` (``P-001__x.csv.gz`` -> ``P-001__x.csv``; ``P-001__x.zip``
    holding a ``.csv`` -> ``P-001__x.csv``), so names read from it stay the received ones."""
    if not is_compressed(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="isletflow-unpack-") as tmp:
        try:
            if path.suffix.lower() == ".gz":
                out = Path(tmp) / path.name[:-3]
                with gzip.open(path, "rb") as src, out.open("wb") as dst:
                    _copy_capped(src, dst)
            else:
                with zipfile.ZipFile(path) as zf:
                    member = _zip_member(zf)
                    out = Path(tmp) / (path.stem + PurePosixPath(member.filename.lower()).suffix)
                    with zf.open(member) as src, out.open("wb") as dst:
                        _copy_capped(src, dst)
        except ArchiveError:
            raise
        except NotImplementedError as err:
            raise ArchiveError("the zip uses a compression method that cannot be read (e.g. "
                               "Deflate64); please zip it again with standard compression") from err
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            kind = "gzip" if path.suffix.lower() == ".gz" else "zip"
            raise ArchiveError(f"the {kind} archive is corrupt or truncated and cannot be "
                               f"unpacked ({type(err).__name__}); please send it again") from err
        yield out
