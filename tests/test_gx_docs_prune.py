"""Data Docs keep the last N nights (ISLETFLOW_DOCS_KEEP_NIGHTS, 30 by default) plus every data
cut (run name ``cut-...``); an older night's result JSON moves to ``_archive/<run name>.zip``
and its page is deleted, so the index lists only what is kept (isletflow/gx_docs.py).

Size, measured with bench/gx_docs.py (40 simulated nights of the sample trial's frames, two
tables a night): see that script's docstring for the figures."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile

import pandas as pd
import pytest

from isletflow.gx_docs import (KEEP_NIGHTS_ENV, build_data_docs, keep_nights_setting,
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
