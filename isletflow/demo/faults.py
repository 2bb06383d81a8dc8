"""Faulty files and rows that real sites send, planted in the sample trial.

Each is listed in the manifest with the rule the pipeline must report, so a test can check
that every one is found, traced to its file (and line), and that nothing else is flagged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path


@dataclass(frozen=True)
class PlantedFault:
    rel_path: str
    rule: str
    row: int | None  # line in the file; None for a whole file


def _line(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(fields)
    return buf.getvalue()


def _edit_clarity(path: Path, edits: dict[int, str], append: list[list[str]]) -> list[int]:
    """Set the glucose of EGV lines (1-based line -> value) and append EGV rows; returns the
    line numbers of the appended rows."""
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    if lines[-1] == "":
        lines.pop()
    for ln, value in edits.items():
        fields = next(csv.reader([lines[ln - 1]]))
        fields[7] = value
        lines[ln - 1] = _line(fields).rstrip("\r\n")
    start = len(lines) + 1
    for fields in append:
        lines.append(_line(fields).rstrip("\r\n"))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return list(range(start, start + len(append)))


def plant_faults(root: Path, present: set[str], k_of: dict[str, int],
                 latest: dict[str, str], infusion_date: Callable[[int], dt.date]
                 ) -> list[PlantedFault]:
    """Write the sample trial's faulty files under ``root`` (only those whose participant is
    in ``present``; ``infusion_date``: of the k-th participant).

    ``latest``: the last regular file the trial sent of each kind, as relative paths, keyed
    ``<site>/edc/<form>`` (one-form REDCap exports) and ``<site>/lab`` (lab transfers): the
    faulty re-sends copy them, and the faulty lab rows are appended to the last transfer."""
    faults: list[PlantedFault] = []

    def day_iso(k: int, d: int) -> str:
        return (infusion_date(k) + dt.timedelta(days=d)).isoformat()

    def write(rel: str, data: bytes, rule: str, row: int | None = None) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        faults.append(PlantedFault(rel, rule, row))

    write("US01/lab/central_lab_results_2025-07-01.csv", b"", "empty_file")
    write("US01/edc/visit_schedule.csv", b"visit,window_days\nday_90,14\nday_180,14\n",
          "unknown_format")
    write("CA01/lab/central_lab_results_v2.csv",
          b"subject_id,visit,collection_date,test_code,test_name,result_value,unit\n"
          b"CA01-003,day_90,2024-06-10,ANC,Neutrophils,3.1,10^9/L\n",
          "missing_or_renamed_column")
    if "CA01/edc/adverse_events" in latest:
        header = (root / latest["CA01/edc/adverse_events"]).read_bytes().split(b"\n")[0] + b"\n"
        write("CA01/edc/adverse_events_addendum.csv", header, "header_only")
    if "DE01/edc/concomitant_medications" in latest:
        text = (root / latest["DE01/edc/concomitant_medications"]).read_text(encoding="utf-8")
        write("DE01/edc/concomitant_medications_resend.csv", text.encode("utf-16"),
              "wrong_encoding")
    if "US01/edc/infusion" in latest:
        src = latest["US01/edc/infusion"]
        write(src.removesuffix(".csv") + " (1).csv", (root / src).read_bytes(), "duplicate_file")
    if "GB01-001" in present:
        k = k_of["GB01-001"]
        rows = "".join(f"GB01-001,unscheduled,{day_iso(k, 60 + i)},ANC,Neutrophil count,"
                       f"{3.4 + i / 10:.1f},x10^9/L\n" for i in range(3))
        header = "subject_id,visit,collection_date,test_code,test_name,result,unit\n"
        write("GB01/lab/central_lab_unscheduled.csv",
              (header + rows + f"GB01-001,unscheduled,{day_iso(k, 63)},AN").encode(),
              "truncated_row", 5)
        lab = root / latest["GB01/lab"]
        n = len(lab.read_bytes().splitlines())
        with lab.open("a", encoding="utf-8") as fh:
            fh.write(f"GB01-099,day_90,{day_iso(k, 90)},ANC,Neutrophil count,3.2,x10^9/L\n")
        faults.append(PlantedFault(latest["GB01/lab"], "unknown_participant", n + 1))
    if "US01-001" in present:
        k = k_of["US01-001"]
        first = root / "US01/cgm/US01-001__clarity_export_1.csv"
        lines = first.read_bytes().split(b"\r\n")
        write("US01/cgm/US01-099__clarity_export.csv", b"\r\n".join(lines[:200]) + b"\r\n",
              "unknown_participant")
        write("CA01/cgm/US01-001__clarity_export_misfiled.csv",
              b"\r\n".join(lines[:300]) + b"\r\n", "wrong_site")
        last = root / "US01/cgm/US01-001__clarity_export_2.csv"
        n = len(last.read_bytes().split(b"\r\n")) - 1
        rel = "US01/cgm/US01-001__clarity_export_2.csv"
        _edit_clarity(last, {n - 10: "0", n - 20: "2000"}, [])
        faults += [PlantedFault(rel, "gx:expect_column_values_to_be_between", n - 20),
                   PlantedFault(rel, "gx:expect_column_values_to_be_between", n - 10)]
        before = (dt.date.fromisoformat(day_iso(k, -60))).isoformat() + "T12:00:00"
        added = _edit_clarity(last, {}, [
            [str(900001), "2031-01-15T12:00:00", "EGV", "", "", "", "Android G6", "120", "", "",
             "", "", "1", ""],
            [str(900002), before, "EGV", "", "", "", "Android G6", "130", "", "", "", "", "2",
             ""],
        ])
        faults += [PlantedFault(rel, "future_timestamp", added[0]),
                   PlantedFault(rel, "before_enrolment", added[1])]
        lab = root / latest["US01/lab"]
        n = len(lab.read_bytes().splitlines())
        with lab.open("a", encoding="utf-8") as fh:
            fh.write(f"US01-001,unscheduled,{day_iso(k, 95)},HBA1C,Hemoglobin A1c,40.0,%\n")
        faults.append(PlantedFault(latest["US01/lab"],
                                   "gx:expect_column_values_to_be_between", n + 1))
    if "DE01-001" in present:
        path = root / "DE01/cgm/DE01-001__clarity_export_2.csv"
        lines = path.read_bytes().decode("utf-8").split("\r\n")
        ln = len(lines) // 2  # an EGV line in the middle of the export
        fields = lines[ln - 1].split(";")
        fields[7] = "9,9" if fields[7] != "9,9" else "8,8"
        lines.insert(ln, ";".join(fields))
        path.write_bytes("\r\n".join(lines).encode("utf-8"))
        rel = "DE01/cgm/DE01-001__clarity_export_2.csv"
        faults += [PlantedFault(rel, "conflicting_values_in_file", ln),
                   PlantedFault(rel, "conflicting_values_in_file", ln + 1)]
    return faults
