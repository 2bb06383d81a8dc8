"""Every file of the sample trial sent a second time changes no endpoint and counts no record
twice (issue 10, part 9; DESIGN.md, "Record identity").

Sites send the same exports again: a re-saved copy with other line ends, a lab file with a
column added. A night that receives every file of the trial a second time, under a new name
and an hour after the original, must publish the same endpoint tables, with the same current
rows in core, each natural key once. The re-sends keep the originals' order (each comes an hour
after its original), so the record that was current stays current, now from its re-sent copy:
endpoint rows that carry lineage are compared with the re-sent file mapped to its original
(same rows, same line numbers).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
from pathlib import Path

import duckdb
import pytest

from flows.nightly import nightly
from isletflow.demo import generate_trial
from isletflow.warehouse import table_digests

pytestmark = pytest.mark.e2e

# The natural key of each core table (DESIGN.md, "Record identity"): REDCap (record, event,
# repeat instrument, repeat instance, form), where a table is one form and the non-repeating
# forms are filed once per participant; central lab (participant, visit, collection date, test
# code: the sample trial's labs send no accession number); CGM (participant, device, UTC time).
KEYS = {
    "participants": ("participant_id",),
    "infusions": ("participant_id",),
    "disposition": ("participant_id",),
    "she_events": ("participant_id", "event_name", "instance"),
    "insulin_diary": ("participant_id", "event_name", "instance"),
    "adverse_events": ("participant_id", "event_name", "instance"),
    "concomitant_medications": ("participant_id", "event_name", "instance"),
    "lab_results": ("participant_id", "visit", "collection_date", "test_code"),
    "cgm_readings": ("participant_id", "device", "timestamp_utc"),
}
RESENT = "_resent"


def resend(path: Path) -> Path:
    """Send ``path`` again an hour later as ``<stem>_resent<suffix>`` with one harmless change:
    a lab file gains a trailing column (empty); a REDCap export gains a field (empty) in its
    last form, before that form's ``_complete`` column, as when a form changes mid-study;
    every other file has its line ends switched (LF <-> CRLF, as a re-save on another system
    does)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
        data = text.replace("\n", "\r\n").encode("utf-16")
    elif path.parent.name == "lab":
        sep = b";" if b";" in lines[0] else b","
        data = b"\n".join([lines[0] + sep + b"comment" if lines[0] else lines[0]]
                          + [ln + sep if ln else ln for ln in lines[1:]])
    elif path.parent.name == "edc" and lines[0].rstrip(b"\r").endswith(b"_complete"):
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(
            [*r[:-1], "resent_note" if i == 0 else "", r[-1]] for i, r in enumerate(rows))
        data = out.getvalue().encode("utf-8")
    elif b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    else:
        data = data.replace(b"\n", b"\r\n")
    copy = path.with_name(f"{path.stem}{RESENT}{path.suffix}")
    copy.write_bytes(data)
    later = path.stat().st_mtime + 3600
    os.utime(copy, (later, later))
    return copy


def endpoint_digests(wh: Path, original: dict[str, str]) -> dict[str, str]:
    """sha256 of every endpoint table, as isletflow.warehouse.table_digests computes it, with
    each ``source_file_id`` of a re-sent copy replaced by its original's file id."""
    out = {}
    with duckdb.connect(str(wh), read_only=True) as con:
        for (name,) in con.sql("SELECT table_name FROM information_schema.tables "
                               "WHERE table_schema = 'endpoints'").fetchall():
            df = con.table(f'endpoints."{name}"').pl()
            if "source_file_id" in df.columns:
                df = df.with_columns(df["source_file_id"].replace(original))
            rows = df.sort(df.columns, nulls_last=True).rows() if df.width else []
            out[f"endpoints.{name}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def core_state(wh: Path) -> dict[str, dict]:
    """Per core table: rows by record status, and current keys that stand more than once."""
    out = {}
    with duckdb.connect(str(wh), read_only=True) as con:
        for table, key in KEYS.items():
            cols = ", ".join(key)
            status = dict(con.sql(f"SELECT record_status, count(*) FROM core.{table} "
                                  "GROUP BY ALL").fetchall())
            twice = con.sql(f"SELECT count(*) FROM (SELECT {cols} FROM core.{table} "
                            "WHERE record_status = 'current' GROUP BY ALL "
                            "HAVING count(*) > 1)").fetchall()[0][0]
            out[table] = {"status": status, "keys_counted_twice": twice}
    return out


@pytest.fixture(scope="module")
def nights(tmp_path_factory, prefect_server):
    root = tmp_path_factory.mktemp("resend")
    landing, wh = root / "landing", root / "warehouse.duckdb"
    manifest = generate_trial(landing, seed=17, participants=4, days=120)
    first = nightly(landing_dir=str(landing), warehouse=str(wh))
    before = {"endpoints": table_digests(wh), "core": core_state(wh)}
    with duckdb.connect(str(wh), read_only=True) as con:
        registered = {r[0] for r in con.sql("SELECT rel_path FROM audit.files "
                                            "WHERE site_id IS NOT NULL").fetchall()}
        lab = con.sql("SELECT participant_id, visit, collection_date::VARCHAR, test_code, "
                      "value_original, record_status FROM core.lab_results").fetchall()
    copies = {resend(p): p for p in sorted(landing.rglob("*")) if p.is_file()}
    second = nightly(landing_dir=str(landing), warehouse=str(wh))
    with duckdb.connect(str(wh), read_only=True) as con:
        ids = dict(con.sql("SELECT rel_path, file_id FROM audit.files").fetchall())
    registered_after = set(ids)
    original = {ids[c.relative_to(landing).as_posix()]: ids[p.relative_to(landing).as_posix()]
                for c, p in copies.items()
                if c.relative_to(landing).as_posix() in ids
                and p.relative_to(landing).as_posix() in ids}
    after = {"endpoints": endpoint_digests(wh, original), "core": core_state(wh)}
    return (manifest, first, second, before, after, lab, copies, original, registered,
            registered_after)


def test_every_file_was_sent_twice(nights):
    manifest, first, second, _, _, _, copies, _, registered, registered_after = nights
    assert len(copies) == len(manifest.files)
    # a copy the same to the byte as its original (the empty file: nothing to change) is a
    # duplicate and is not loaded; every other original the first night registered has its
    # copy registered by the second, and no other file does
    same = {p for c, p in copies.items() if c.read_bytes() == p.read_bytes()}
    assert [p.name for p in same] == ["central_lab_results_2025-07-01.csv"]  # the empty one
    with_copy = {p.relative_to(manifest.out_dir).as_posix() for c, p in copies.items()
                 if c.relative_to(manifest.out_dir).as_posix() in registered_after}
    assert with_copy == registered - {p.relative_to(manifest.out_dir).as_posix() for p in same}
    assert second["files"] == 2 * first["files"] - len(same)


def test_every_endpoint_table_is_unchanged(nights):
    _, _, second, before, after, *_ = nights
    assert len(before["endpoints"]) == 17
    assert after["endpoints"] == before["endpoints"]
    assert second["endpoint_values_changed"] == 0


def test_no_key_is_counted_twice_and_the_same_records_are_current(nights):
    _, _, _, before, after, *_ = nights
    for table in KEYS:
        b, a = before["core"][table], after["core"][table]
        assert a["keys_counted_twice"] == 0, table
        assert a["status"].get("current") == b["status"].get("current"), table
        # an equal re-send is an overlap, never a correction; a value that was superseded is
        # superseded again in its copy (sent, like it, before the correction): twice as many
        assert a["status"].get("superseded", 0) == 2 * b["status"].get("superseded", 0), table
        assert a["status"].get("overlap", 0) > b["status"].get("overlap", 0), table


def test_the_corrected_lab_result_is_current_and_the_first_one_superseded(nights):
    manifest, _, _, _, _, lab, *_ = nights
    (c,) = manifest.lab_corrections
    rows = {(r[4], r[5]) for r in lab
            if r[:4] == (c.participant_id, c.visit, c.collection_date, "HBA1C")}
    assert (c.corrected, "current") in rows and (c.sent, "superseded") in rows
    assert {s for v, s in rows if v == c.corrected} <= {"current", "overlap"}
