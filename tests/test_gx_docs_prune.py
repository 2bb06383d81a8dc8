"""Data Docs keep the last N nights (ISLETFLOW_DOCS_KEEP_NIGHTS, 30 by default) plus every data
cut (run name ``cut-...``); an older night's result JSON moves to ``_archive/<run name>.zip``
and its page is deleted, so the index lists only what is kept (isletflow/gx_docs.py).

Size, measured with bench/gx_docs.py (40 simulated nights of the sample trial's frames, two
tables a night): see that script's docstring for the figures."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import signal
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from isletflow.gx_docs import (ARCHIVE_SUBDIR, KEEP_NIGHTS_ENV, RESULTS_SUBDIR, build_data_docs,
                               keep_nights_setting, page_path, prune_results, result_path,
                               run_name_for)
from schemas.gx_suites import GX_SUITES

# one table a night keeps each build short (about 0.2 s); 39 mg/dL is below the suite's 40
CGM = pd.DataFrame({"participant_id": ["US01-001"] * 3, "glucose_mg_dl": [100, 39, 120],
                    "timestamp_utc": pd.to_datetime(["2025-01-01 00:00"] * 3)})
FRAMES = {"cgm_readings": (CGM, GX_SUITES["cgm_readings"])}


def run_names(folder) -> set[str]:
    """Run-name folders under a suite's folder (``<suite>/<run name>/<run time>/...``)."""
    return {p.name for p in folder.iterdir() if p.is_dir()}


def test_35_nights_keep_the_last_30_and_the_cut(tmp_path, monkeypatch):
    monkeypatch.delenv(KEEP_NIGHTS_ENV, raising=False)  # the default: 30 nights
    docs = tmp_path / "gx_docs"
    build_data_docs(FRAMES, docs, "cut-2025-06-30-20250701T020000-abcdef12")  # the oldest run
    nights = [f"nightly-{i:02d}" for i in range(35)]
    for name in nights:
        index = build_data_docs(FRAMES, docs, name)

    kept = set(nights[5:]) | {"cut-2025-06-30-20250701T020000-abcdef12"}  # 30 nights + cut
    assert run_names(docs / "_validation_results" / "cgm_readings") == kept
    assert run_names(docs / "validations" / "cgm_readings") == kept
    assert len(list((docs / "validations").rglob("*.html"))) == 31  # one page a kept run
    text = index.read_text(encoding="utf-8")
    listed = set(re.findall(r"nightly-\d\d|cut-2025-06-30-20250701T020000-abcdef12", text))
    assert listed == kept

    # the 5 oldest nights: archived, one zip each, holding the result JSON GX had stored
    archives = sorted(p.name for p in (docs / "_archive").iterdir())
    assert archives == [f"nightly-{i:02d}.zip" for i in range(5)]
    with zipfile.ZipFile(docs / "_archive" / "nightly-00.zip") as zf:
        (member,) = zf.namelist()
        assert member.startswith("cgm_readings/nightly-00/") and member.endswith(
            "/frames-cgm_readings.json")
        result = json.loads(zf.read(member))
    assert result["meta"]["run_id"]["run_name"] == "nightly-00"
    assert result["statistics"] == {"evaluated_expectations": 3, "successful_expectations": 2,
                                    "unsuccessful_expectations": 1, "success_percent":
                                    pytest.approx(200 / 3)}


def test_keep_nights_setting(monkeypatch):
    monkeypatch.delenv(KEEP_NIGHTS_ENV, raising=False)
    assert keep_nights_setting() == 30
    monkeypatch.setenv(KEEP_NIGHTS_ENV, "7")
    assert keep_nights_setting() == 7
    assert keep_nights_setting(0) == 0  # an explicit value wins; 0 keeps every night
    monkeypatch.setenv(KEEP_NIGHTS_ENV, "a month")
    with pytest.raises(ValueError, match="ISLETFLOW_DOCS_KEEP_NIGHTS"):
        keep_nights_setting()


def test_zero_keeps_every_night(tmp_path):
    docs = tmp_path / "gx_docs"
    for name in ("nightly-a", "nightly-b", "nightly-c"):
        build_data_docs(FRAMES, docs, name, keep_nights=0)
    assert run_names(docs / "validations" / "cgm_readings") == {
        "nightly-a", "nightly-b", "nightly-c"}
    assert not (docs / "_archive").exists()


def test_run_names_of_nights_and_cuts():
    started = dt.datetime(2025, 7, 1, 2, 30, 5)
    run_id = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
    assert run_name_for(started, run_id) == "nightly-20250701T023005-0f1e2d3c"
    assert run_name_for(started, run_id, dt.date(2025, 6, 30)) == \
        "cut-2025-06-30-20250701T023005-0f1e2d3c"


# --- a prune killed part-way (SIGKILL, reboot, OOM killer) loses nothing -----------------------
# Three nights, two suites each, keep 1: nights 01 and 02 are archived, night 03 is kept. The
# JSON files and pages are written by hand (each JSON names its night and suite), so what the
# archive must hold is known without GX.

NIGHTS = [f"nightly-2025010{d}T023000-aaaaaaaa" for d in (1, 2, 3)]
SUITES = ("cgm_readings", "lab_results")


def make_site(docs) -> list[ValidationResultIdentifier]:
    """Two results a night for :data:`NIGHTS` (run time 02:30 UTC of its date) and a page
    for each; returns their keys."""
    keys = []
    for day, name in enumerate(NIGHTS, start=1):
        run_id = RunIdentifier(run_name=name,
                               run_time=dt.datetime(2025, 1, day, 2, 30, tzinfo=dt.UTC))
        for suite in SUITES:
            key = ValidationResultIdentifier(ExpectationSuiteIdentifier(suite), run_id,
                                             f"frames-{suite}")
            for path, text in ((docs / RESULTS_SUBDIR / result_path(key), json.dumps(
                    {"run_name": name, "suite": suite})), (docs / page_path(key), "<html/>")):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            keys.append(key)
    return keys


def stored(docs, keys) -> list[ValidationResultIdentifier]:
    """The keys whose JSON file is present: what GX's results store lists the next night."""
    return [k for k in keys if (docs / RESULTS_SUBDIR / result_path(k)).is_file()]


def assert_nights_archived(docs, keys) -> None:
    """Nights 01 and 02: each result in its night's zip exactly once, with the content written
    by :func:`make_site`, and neither JSON nor page left; night 03 untouched; no temp file."""
    for name in NIGHTS[:2]:
        with zipfile.ZipFile(docs / ARCHIVE_SUBDIR / f"{name}.zip") as zf:
            names = zf.namelist()
            assert sorted(names) == sorted(result_path(k) for k in keys
                                           if k.run_id.run_name == name)  # once each
            assert sorted(json.loads(zf.read(n))["suite"] for n in names) == list(SUITES)
            assert {json.loads(zf.read(n))["run_name"] for n in names} == {name}
    assert sorted(p.name for p in (docs / ARCHIVE_SUBDIR).iterdir()) == [
        f"{NIGHTS[0]}.zip", f"{NIGHTS[1]}.zip"]
    assert [k.run_id.run_name for k in stored(docs, keys)] == [NIGHTS[2]] * 2
    pages = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.html"))
    assert pages == sorted(page_path(k) for k in keys if k.run_id.run_name == NIGHTS[2])


def _kill_at(point: str, monkeypatch) -> None:
    """In the child: SIGKILL this process at ``point`` of the prune."""
    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    calls = [0]
    if point == "second zip write":  # the temp archive half written
        write = zipfile.ZipFile.write

        def killing_write(self, *args, **kwargs):
            calls[0] += 1
            if calls[0] == 2:
                die()
            return write(self, *args, **kwargs)
        monkeypatch.setattr(zipfile.ZipFile, "write", killing_write)
    elif point == "rename":  # the temp archive complete, not yet renamed
        monkeypatch.setattr(os, "replace", lambda *args: die())
    else:  # "second json unlink": between unlinks; "first page unlink": JSON all gone
        unlink, suffix = Path.unlink, ".json" if point == "second json unlink" else ".html"

        def killing_unlink(self, *args, **kwargs):
            if self.suffix == suffix:
                calls[0] += 1
                if calls[0] == (2 if suffix == ".json" else 1):
                    die()
            return unlink(self, *args, **kwargs)
        monkeypatch.setattr(Path, "unlink", killing_unlink)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL (POSIX)")
@pytest.mark.parametrize("point", ["second zip write", "rename", "second json unlink",
                                   "first page unlink"])
def test_a_prune_killed_part_way_is_finished_by_the_next(tmp_path, monkeypatch, point):
    docs = tmp_path / "gx_docs"
    keys = make_site(docs)
    pid = os.fork()
    if pid == 0:  # the child prunes and is killed at `point` (exit 3: it was not)
        try:
            _kill_at(point, monkeypatch)
            prune_results(docs, keys, keep_nights=1)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    # every result is still in _validation_results/ or in a complete archive (or both)
    for k in keys:
        in_zip = False
        archive = docs / ARCHIVE_SUBDIR / f"{k.run_id.run_name}.zip"
        if archive.exists():
            with zipfile.ZipFile(archive) as zf:
                in_zip = result_path(k) in zf.namelist()
        assert in_zip or (docs / RESULTS_SUBDIR / result_path(k)).is_file()
    if point in ("second zip write", "rename"):  # the temp archive is left, the JSON kept
        assert [p.name for p in (docs / ARCHIVE_SUBDIR).iterdir()] == [f"{NIGHTS[0]}.zip.tmp"]
        assert stored(docs, keys) == keys

    prune_results(docs, stored(docs, keys), keep_nights=1)  # the next night's prune
    assert_nights_archived(docs, keys)


def test_a_partly_archived_night_is_completed_without_duplicates(tmp_path, monkeypatch):
    """The same as the kill between unlinks, in-process: the unlink of the second JSON file
    raises, so night 01's zip holds both results while one of them is still in place."""
    docs = tmp_path / "gx_docs"
    keys = make_site(docs)
    unlink, calls = Path.unlink, [0]

    def failing_unlink(self, *args, **kwargs):
        if self.suffix == ".json":
            calls[0] += 1
            if calls[0] == 2:
                raise OSError("killed")
        return unlink(self, *args, **kwargs)
    monkeypatch.setattr(Path, "unlink", failing_unlink)
    with pytest.raises(OSError, match="killed"):
        prune_results(docs, keys, keep_nights=1)
    monkeypatch.undo()
    # night 01's cgm_readings JSON went, its lab_results JSON is left (and in the zip)
    assert [k.run_id.run_name for k in stored(docs, keys)] == [
        NIGHTS[0], NIGHTS[1], NIGHTS[1], NIGHTS[2], NIGHTS[2]]
    with zipfile.ZipFile(docs / ARCHIVE_SUBDIR / f"{NIGHTS[0]}.zip") as zf:
        assert sorted(zf.namelist()) == sorted(result_path(k) for k in keys[:2])
    prune_results(docs, stored(docs, keys), keep_nights=1)
    assert_nights_archived(docs, keys)


def test_leftover_temp_archive_is_removed(tmp_path):
    docs = tmp_path / "gx_docs"
    keys = make_site(docs)
    (docs / ARCHIVE_SUBDIR).mkdir()
    (docs / ARCHIVE_SUBDIR / "nightly-20241231T023000-aaaaaaaa.zip.tmp").write_bytes(b"PK\x03")
    prune_results(docs, keys, keep_nights=1)
    assert_nights_archived(docs, keys)


def unclosed_zip(member: str, data: bytes) -> bytes:
    """The bytes of a zip whose writer was killed before closing it: local header and data,
    no central directory (what the prune before this fix left when killed)."""
    buffer = io.BytesIO()
    zf = zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED)
    zf.writestr(member, data)
    return buffer.getvalue()  # read before close(), which writes the central directory


def test_an_unreadable_archive_is_kept_aside_not_overwritten(tmp_path):
    docs = tmp_path / "gx_docs"
    keys = make_site(docs)
    archive = docs / ARCHIVE_SUBDIR / f"{NIGHTS[0]}.zip"
    archive.parent.mkdir()
    broken = unclosed_zip("cgm_readings/x.json", b"{}")
    archive.write_bytes(broken)
    (docs / ARCHIVE_SUBDIR / f"{NIGHTS[0]}.zip.broken-1").write_bytes(b"an earlier one")
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(archive)  # what the old prune's next night ran into

    with pytest.warns(UserWarning, match=rf"{NIGHTS[0]}\.zip cannot be read \(BadZipFile\): "
                                         rf"kept aside as {NIGHTS[0]}\.zip\.broken-2"):
        prune_results(docs, keys, keep_nights=1)
    assert (docs / ARCHIVE_SUBDIR / f"{NIGHTS[0]}.zip.broken-2").read_bytes() == broken
    assert (docs / ARCHIVE_SUBDIR / f"{NIGHTS[0]}.zip.broken-1").read_bytes() == \
        b"an earlier one"
    with zipfile.ZipFile(archive) as zf:  # the new archive: the night's two stored results
        assert sorted(zf.namelist()) == sorted(result_path(k) for k in keys[:2])


def test_a_night_unzipped_back_is_archived_again_once(tmp_path):
    """A result of an archived night put back into _validation_results/ (the README's way to
    see a night again) is pruned again: its entry is replaced, not added a second time, and
    the night's other entry is kept."""
    docs = tmp_path / "gx_docs"
    keys = make_site(docs)
    prune_results(docs, keys, keep_nights=1)
    first = keys[0]  # night 01, cgm_readings: put back by hand
    path = docs / RESULTS_SUBDIR / result_path(first)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"run_name": NIGHTS[0], "suite": "cgm_readings"}))
    prune_results(docs, stored(docs, keys), keep_nights=1)
    assert_nights_archived(docs, keys)
