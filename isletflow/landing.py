"""Discover site exports under the landing folder (``<site_id>/<cgm|edc|lab>/*.csv``)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

KINDS = ("cgm", "edc", "lab")


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
    """A file that is not loaded, and why (reported in quality.issues, never silently)."""

    rel_path: str
    site_id: str | None
    rule: str
    message: str


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def scan_landing(landing_dir: Path, known_sites: set[str], sites: tuple[str, ...] | None = None,
                 as_of: dt.date | None = None) -> tuple[list[LandingFile], list[LandingProblem]]:
    """Every ``.csv`` export under ``landing_dir`` that this run should load, and the problems.

    Layout (DESIGN.md, "Contracts"): ``<site_id>/cgm/<participant_id>__<free text>.csv``,
    ``<site_id>/edc/*.csv``, ``<site_id>/lab/*.csv``. ``sites`` restricts to those sites;
    ``as_of`` keeps files received (modified) on or before that date (UTC). A file whose
    content was already seen under another name is reported as a duplicate, not loaded twice.
    Of files with the same content, the first received (then the first by path) is loaded.
    Files are returned sorted by relative path, so a run is deterministic.
    """
    if not landing_dir.is_dir():
        raise FileNotFoundError(f"landing folder {landing_dir} does not exist")
    files: list[LandingFile] = []
    problems: list[LandingProblem] = []
    for path in sorted(p for p in landing_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(landing_dir).as_posix()
        parts = rel.split("/")
        site = parts[0] if len(parts) > 1 else None
        if sites and site not in sites:
            continue
        stat = path.stat()
        received = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None)
        if as_of and received.date() > as_of:
            continue
        if len(parts) != 3 or site not in known_sites or parts[1] not in KINDS:
            problems.append(LandingProblem(rel, site if site in known_sites else None,
                                           "landing_layout",
                                           "not under <site_id>/<cgm|edc|lab>/ of a known site"))
            continue
        if path.suffix.lower() != ".csv":
            problems.append(LandingProblem(rel, site, "landing_layout", "not a .csv export"))
            continue
        participant = None
        if parts[1] == "cgm":
            participant = path.stem.split("__")[0] if "__" in path.stem else None
            if participant is None:
                problems.append(LandingProblem(rel, site, "cgm_file_name",
                                               "CGM file name must be <participant_id>__*.csv"))
                continue
        files.append(LandingFile(path, rel, site, parts[1], participant, sha256_of(path),
                                 stat.st_size, received))
    unique: dict[str, LandingFile] = {}
    for f in sorted(files, key=lambda f: (f.received_at, f.rel_path)):
        if f.sha256 in unique:
            problems.append(LandingProblem(f.rel_path, f.site_id, "duplicate_file",
                                           f"same content as {unique[f.sha256].rel_path}; "
                                           "not loaded again"))
        else:
            unique[f.sha256] = f
    return sorted(unique.values(), key=lambda f: f.rel_path), problems
