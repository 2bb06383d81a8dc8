"""The sample-trial generator and the landing-folder contract.

What the sample trial sends over time (isletflow/demo/__init__.py, sends.py): cumulative REDCap
exports, one form that gains a field mid-study, a whole-project export with its dictionary at
one site, a Libre Pro patient report, lab transfers with one corrected re-send; every file
dated the day it would be sent. The real layouts these copy are in
shared/reference/real/PROVENANCE.md (sections B5 and C).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
from pathlib import Path

import pytest

from isletflow.demo import generate_trial
from isletflow.demo.sends import CORRECTION_DELAY_DAYS
from isletflow.landing import scan_landing
from isletflow.readers import read_export
from isletflow.trial import load_trial

SITES = set(load_trial().site_ids)  # the sample trial's sites (trials/islet-101.toml)
WHOLE_PROJECT_SITE = "GB01"  # the site that sends REDCap's whole-project export (plans.py)

# PROVENANCE.md section C: the data dictionary's download header, exactly as REDCap writes it.
DICTIONARY_HEADER = (
    '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels","Field Note",'
    '"Text Validation Type OR Show Slider Number","Text Validation Min","Text Validation Max",'
    'Identifier?,"Branching Logic (Show field only if...)","Required Field?","Custom Alignment",'
    '"Question Number (surveys only)","Matrix Group Name","Matrix Ranking?","Field Annotation"')
# The forms the core SQL reads (sql/core/0*.sql), in the project's order.
FORMS = ["enrolment", "infusion", "severe_hypoglycemia", "insulin_diary", "adverse_events",
         "concomitant_medications", "disposition"]
EVENTS = {"screening_arm_1", "day_0_arm_1", "follow_up_arm_1", "end_of_study_arm_1"}


def digests(root):
    """Content and file time of every file: what 'the same trial' means."""
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                             p.stat().st_mtime)
            for p in sorted(root.rglob("*")) if p.is_file()}


def received(path: Path) -> dt.date:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date()


def table(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def sent(root: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` under ``root``, in the order they were received."""
    return sorted(root.glob(pattern), key=lambda p: (p.stat().st_mtime, p.name))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """4 participants (one per site), 120 days: the amendment falls inside the trial."""
    return generate_trial(tmp_path_factory.mktemp("small"), seed=11, participants=4, days=120)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return generate_trial(tmp_path_factory.mktemp("full"))


def test_same_seed_same_bytes_and_times_other_seed_other_bytes(tmp_path):
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
            "GB01/cgm/GB01-001__libreview_1.csv"} <= rel
    for site in ("US01", "CA01", "DE01"):  # one file per form per export day
        assert {f for f in FORMS if any(re.fullmatch(rf"{site}/edc/{f}_\d{{4}}-\d\d-\d\d\.csv", r)
                                        for r in rel)} == set(FORMS)
    assert any(re.fullmatch(r"GB01/edc/IsletTrial_DATA_\d{4}-\d\d-\d\d_0600\.csv", r) for r in rel)
    assert any(re.fullmatch(r"GB01/edc/IsletTrial_DataDictionary_[\d-]+\.csv", r) for r in rel)
    for site in ("US01", "CA01", "DE01", "GB01"):
        assert any(re.fullmatch(rf"{site}/lab/central_lab_transfer_[\d-]+\.csv", r) for r in rel)
    files, problems = scan_landing(tmp_path, SITES)
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


def test_redcap_exports_are_cumulative_snapshots_on_the_cadence(small):
    root = small.out_dir
    for site in ("US01", "CA01", "DE01"):
        for form in FORMS:
            exports = sent(root, f"{site}/edc/{form}_2*.csv")
            assert exports, (site, form)
            seen: dict[tuple, str] = {}
            for path in exports:
                rows = {(r["record_id"], r["redcap_event_name"], r["redcap_repeat_instrument"],
                         r["redcap_repeat_instance"]): r for r in table(path)}
                assert set(seen) <= set(rows), path  # every record sent before is sent again
                # and an instance keeps its number: the same first field (a date, a term)
                first_field = list(rows[next(iter(rows))])[4]
                for key, value in seen.items():
                    assert not key[2] or rows[key][first_field] == value, (path, key)
                seen.update({k: r[first_field] for k, r in rows.items() if k not in seen})
        # the diary changes every week (the default cadence): one export every 7 days
        diary = [received(p) for p in sent(root, f"{site}/edc/insulin_diary_2*.csv")]
        assert {(b - a).days for a, b in zip(diary, diary[1:])} == {7}
        assert len(diary) > 8
    # the first diary day of US01-001 stands in every diary export of US01
    first = table(sent(root, "US01/edc/insulin_diary_2*.csv")[0])[0]
    assert all(first in table(p) for p in sent(root, "US01/edc/insulin_diary_2*.csv"))


def test_the_cadence_is_a_parameter(tmp_path):
    weekly = generate_trial(tmp_path / "w", seed=11, participants=1, days=60, edc_every_days=7)
    monthly = generate_trial(tmp_path / "m", seed=11, participants=1, days=60,
                             edc_every_days=28)
    gaps = {}
    for name, m in (("weekly", weekly), ("monthly", monthly)):
        days = [received(p) for p in sent(m.out_dir, "US01/edc/insulin_diary_2*.csv")]
        gaps[name] = {(b - a).days for a, b in zip(days, days[1:])}
    assert gaps == {"weekly": {7}, "monthly": {28}}


def test_the_adverse_event_form_gains_a_field_mid_study(small):
    root, amended = small.out_dir, small.amended
    before, after = 0, 0
    for path in [*root.glob("*/edc/adverse_events_2*.csv"), *root.glob("GB01/edc/*_DATA_*.csv")]:
        header = path.read_text(encoding="utf-8").split("\n")[0].split(",")
        has = "ae_action_taken" in header
        assert has == (received(path) >= amended), path
        before, after = before + (not has), after + has
        if has:  # in its place in the form, before the outcome
            assert header.index("ae_action_taken") == header.index("ae_outcome") - 1
    assert before > 0 and after > 0
    # GB01 sent the dictionary with its first export, and again with the changed form
    dictionaries = sent(root, "GB01/edc/*_DataDictionary_*.csv")
    assert [("ae_action_taken," in p.read_text()) for p in dictionaries] == [False, True]
    assert received(dictionaries[0]) < amended <= received(dictionaries[1])


def test_the_whole_project_export_is_a_redcap_flat_export_with_its_dictionary(small):
    root = small.out_dir
    dictionary = sent(root, f"{WHOLE_PROJECT_SITE}/edc/*_DataDictionary_*.csv")[-1]
    lines = dictionary.read_text(encoding="utf-8").splitlines()
    assert lines[0] == DICTIONARY_HEADER
    fields = list(csv.reader(lines[1:]))
    assert {len(f) for f in fields} == {18}
    by_name = {f[0]: f for f in fields}
    assert [f[0] for f in fields][0] == "record_id"
    assert list(dict.fromkeys(f[1] for f in fields)) == FORMS
    assert {f[3] for f in fields} == {"text", "radio", "dropdown", "checkbox", "yesno"}
    assert {f[7] for f in fields} == {"", "date_ymd", "integer", "number"}
    assert by_name["sex"][5] == "1, Female | 2, Male"
    assert [f[0] for f in fields if f[10] == "y"] == ["dob"]  # the one identifier field

    export = sent(root, f"{WHOLE_PROJECT_SITE}/edc/*_DATA_*.csv")[-1]
    header = export.read_text(encoding="utf-8").split("\n")[0].split(",")
    assert header[:5] == ["record_id", "redcap_event_name", "redcap_repeat_instrument",
                          "redcap_repeat_instance", "redcap_data_access_group"]
    assert [c.removesuffix("_complete") for c in header if c.endswith("_complete")] == FORMS
    # each form's fields (a checkbox as field___code) stand before its <form>_complete column
    form_of = {}
    for f in fields[1:]:
        codes = [c.split(",")[0].strip() for c in f[5].split("|")] if f[3] == "checkbox" else []
        form_of.update({f"{f[0]}___{c}": f[1] for c in codes} if codes else {f[0]: f[1]})
    form = FORMS[0]
    for col in header[5:]:
        if col.endswith("_complete"):
            assert col == f"{form}_complete"
            form = FORMS[min(FORMS.index(form) + 1, len(FORMS) - 1)]
        else:
            assert form_of[col] == form, col
    assert [c for c in header if c.startswith("race___")] == [f"race___{i}" for i in range(1, 6)]
    rows = table(export)
    assert {r["record_id"] for r in rows} == {p for p in small.participants
                                              if p.startswith(WHOLE_PROJECT_SITE)}
    assert {r["redcap_data_access_group"] for r in rows} == {"gb01_london"}
    assert {r["redcap_event_name"] for r in rows} == EVENTS
    for r in rows:  # one form per row, complete; repeat rows name their instrument
        filled = [f for f in FORMS if r[f"{f}_complete"]]
        assert len(filled) == 1 and r[f"{filled[0]}_complete"] == "2"
        if r["redcap_repeat_instrument"]:
            assert r["redcap_repeat_instrument"] == filled[0]
            assert int(r["redcap_repeat_instance"]) >= 1
    # read with its dictionary: every form the core SQL reads, and no date of birth
    fmt, long, _ = read_export(export)
    assert fmt == "redcap"
    assert set(long["form"]) == set(FORMS)
    assert "dob" not in set(long["field"])
    dobs = {r["dob"] for r in rows if r["dob"]}
    assert len(dobs) == 1 and not dobs & set(long["value"].drop_nulls())


def test_a_libre_pro_patient_report_stands_for_one_libreview_export(tmp_path):
    m = generate_trial(tmp_path, seed=3, participants=13, days=20, faults=False)
    assert not (tmp_path / "GB01/cgm/GB01-002__libreview_1.csv").exists()
    assert (tmp_path / "GB01/cgm/GB01-002__libreview_2.csv").exists()
    path = tmp_path / "GB01/cgm/GB01-002__libre_pro_patient_report.csv"
    assert path in m.files
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw  # UTF-8, LF (B5)
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    assert lines[0][:2] == ["Patient report", "Generated on"] and lines[0][3] == "Generated by"
    assert len(lines[0]) == len(lines[1]) == 19  # the two preamble lines, padded (B5)
    assert lines[1][0] in m.planted_phi and lines[1][1] in m.planted_phi  # name, birth date
    assert lines[2][:5] == ["Device", "Serial Number", "Device Timestamp", "Record Type",
                            "Historic Glucose mmol/L"]
    assert lines[2][12] == "Long-Acting Insulin (units)" and len(lines[2]) == 19
    body = lines[3:]
    assert {(r[0], r[3]) for r in body} == {("FreeStyle Libre Pro", "0")}
    assert all(re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:\d\d", r[2]) for r in body)
    fmt, rows, _ = read_export(path)
    assert fmt == "libreview" and rows.height == len(body)


def test_a_lab_result_is_corrected_by_a_later_resend(full):
    (c,) = full.lab_corrections
    root = full.out_dir
    assert (c.participant_id, c.test_code) == ("CA01-003", "HBA1C")
    assert float(c.sent) == pytest.approx(float(c.corrected) + 1.0)  # a keying error of 1 %
    first, fixed = root / c.first_file, root / c.corrected_file
    assert (received(fixed) - received(first)).days == CORRECTION_DELAY_DAYS
    a, b = first.read_text().splitlines(), fixed.read_text().splitlines()
    changed = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    assert len(changed) == 1
    key = f"{c.participant_id},{c.visit},{c.collection_date},HBA1C,"
    assert changed[0][0].startswith(key) and changed[0][0].split(",")[5] == c.sent
    assert changed[0][1].startswith(key) and changed[0][1].split(",")[5] == c.corrected
    later = [p for p in sent(root, "CA01/lab/central_lab_transfer_*.csv")
             if received(p) > received(fixed)]
    assert later and all(changed[0][1] in p.read_text().splitlines() for p in later)


def test_every_file_is_received_after_what_it_holds(full):
    faulty = {full.out_dir / f.rel_path for f in full.planted_faults}
    checked = 0
    for path in full.files:
        if path in faulty or "/cgm/" in path.as_posix():
            continue
        text = path.read_bytes().decode("latin-1")  # the German lab writes Latin-1
        dates = [dt.date.fromisoformat(d) for d in re.findall(r"\d{4}-\d\d-\d\d", text)]
        if dates:  # (a dictionary, a disposition of ongoing participants: no date)
            assert max(dates) < received(path), path
            checked += 1
    assert checked > 200
    edc = sorted(received(p) for p in full.files if "/edc/" in p.as_posix() and p not in faulty)
    assert edc[0] < dt.date(2024, 3, 4) < edc[-1]  # from before the first infusion to the end


def test_a_mid_trial_cut_has_data_from_every_source(full):
    cut = dt.date(2025, 6, 30)
    files, problems = scan_landing(full.out_dir, SITES, as_of=cut)
    assert problems == []
    assert {(f.site_id, f.kind) for f in files} == {(s, k) for s in SITES
                                                    for k in ("cgm", "edc", "lab")}
    # every participant named in a file of the cut is in an enrolment form of the cut
    enrolled, named = set(), set()
    for f in files:
        if f.kind == "cgm":
            named.add(f.participant_id)
            continue
        if "DataDictionary" in f.path.name:
            continue
        rows = list(csv.DictReader(io.StringIO(f.path.read_bytes().decode("latin-1")),
                                   delimiter=";" if f.site_id == "DE01" and f.kind == "lab"
                                   else ","))
        ids = {r.get("record_id") or r.get("subject_id") for r in rows}
        named |= ids
        if "enrolment" in f.path.name or "_DATA_" in f.path.name:
            enrolled |= {r["record_id"] for r in rows if r["redcap_event_name"] ==
                         "screening_arm_1" and not r["redcap_repeat_instrument"]}
    assert named <= enrolled
    assert len(enrolled) == 14  # all 14 were enrolled by mid-2025


def test_scan_reports_duplicates_and_stray_files_and_honours_as_of(tmp_path):
    m = generate_trial(tmp_path, seed=1, participants=1, days=5, faults=False)
    src = next(p for p in m.files if p.name.startswith("infusion_"))
    (tmp_path / "US01/edc/infusion_copy.csv").write_bytes(src.read_bytes())
    later = src.stat().st_mtime + 3600  # the copy came in an hour later
    os.utime(tmp_path / "US01/edc/infusion_copy.csv", (later, later))
    (tmp_path / "ZZ99/edc").mkdir(parents=True)
    (tmp_path / "ZZ99/edc/x.csv").write_text("a\n")
    (tmp_path / "US01/cgm/no_participant.csv").write_text("a\n")
    late = next(p for p in m.files if "/lab/" in p.as_posix())
    ts = dt.datetime(2030, 1, 2, tzinfo=dt.UTC).timestamp()
    os.utime(late, (ts, ts))
    files, problems = scan_landing(tmp_path, SITES, as_of=dt.date(2029, 12, 31))
    rules = sorted((p.rel_path, p.rule) for p in problems)
    assert rules == [("US01/cgm/no_participant.csv", "cgm_file_name"),
                     ("US01/edc/infusion_copy.csv", "duplicate_file"),
                     ("ZZ99/edc/x.csv", "landing_layout")]
    assert late.relative_to(tmp_path).as_posix() not in {f.rel_path for f in files}
