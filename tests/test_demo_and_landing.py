"""The sample-trial generator and the landing-folder contract."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

from isletflow.config import SITES_BY_ID
from isletflow.demo import generate_trial
from isletflow.landing import scan_landing


def digests(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate_trial(tmp_path / "a", seed=7, participants=2, days=20)
    generate_trial(tmp_path / "b", seed=7, participants=2, days=20)
    generate_trial(tmp_path / "c", seed=8, participants=2, days=20)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert digests(tmp_path / "a") != digests(tmp_path / "c")


def test_layout_follows_the_landing_contract(tmp_path):
    m = generate_trial(tmp_path, seed=1, participants=4, days=10, faults=False)
    rel = {p.relative_to(tmp_path).as_posix() for p in m.files}
    assert {"US01/cgm/US01-001__clarity_export_1.csv", "US01/cgm/US01-001__clarity_export_2.csv",
            "CA01/cgm/CA01-003__clarity_export_1.csv", "DE01/cgm/DE01-001__clarity_export_1.csv",
            "GB01/cgm/GB01-001__libreview_1.csv", "DE01/edc/enrolment.csv",
            "GB01/lab/central_lab_results.csv"} <= rel
    files, problems = scan_landing(tmp_path, set(SITES_BY_ID))
    assert problems == []
    assert len(files) == len(m.files)
    cgm = [f for f in files if f.kind == "cgm"]
    assert sorted({f.participant_id for f in cgm}) == ["CA01-003", "DE01-001", "GB01-001",
                                                       "US01-001"]
    # the export itself carries the patient's name, never the trial ID
    assert "US01-001" not in (tmp_path / "US01/cgm/US01-001__clarity_export_1.csv").read_text(
        encoding="utf-8-sig")
    # the later, overlapping re-export was received after the first export
    first, second = (f for f in cgm if f.participant_id == "US01-001")
    assert first.received_at < second.received_at


def test_scan_reports_duplicates_and_stray_files_and_honours_as_of(tmp_path):
    generate_trial(tmp_path, seed=1, participants=1, days=5, faults=False)
    src = tmp_path / "US01/edc/infusion.csv"
    (tmp_path / "US01/edc/infusion_copy.csv").write_bytes(src.read_bytes())
    later = src.stat().st_mtime + 3600  # the copy came in an hour later
    os.utime(tmp_path / "US01/edc/infusion_copy.csv", (later, later))
    (tmp_path / "ZZ99/edc").mkdir(parents=True)
    (tmp_path / "ZZ99/edc/x.csv").write_text("a\n")
    (tmp_path / "US01/cgm/no_participant.csv").write_text("a\n")
    late = tmp_path / "US01/lab/central_lab_results.csv"
    ts = dt.datetime(2030, 1, 2, tzinfo=dt.UTC).timestamp()
    os.utime(late, (ts, ts))
    files, problems = scan_landing(tmp_path, set(SITES_BY_ID), as_of=dt.date(2029, 12, 31))
    rules = sorted((p.rel_path, p.rule) for p in problems)
    assert rules == [("US01/cgm/no_participant.csv", "cgm_file_name"),
                     ("US01/edc/infusion_copy.csv", "duplicate_file"),
                     ("ZZ99/edc/x.csv", "landing_layout")]
    assert "US01/lab/central_lab_results.csv" not in {f.rel_path for f in files}
