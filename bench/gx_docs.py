"""Benchmark (not a test): the Data Docs folder after 40 simulated nights, with pruning (the
last 30 nights kept, isletflow/gx_docs.py) and without (every night kept), and how they look
offline in headless Chromium.

A night is one build_data_docs call with the frames the nightly build hands it: the GX
columns (isletflow.quality.gx_columns) of core.cgm_readings (its first CHUNK_ROWS rows) and
core.lab_results of the sample trial's published warehouse (data/warehouse.duckdb: run
`make run` first). Sizes are the sum of the files' sizes (bytes), per part of the site; the
screenshots are taken with every host name unresolvable.

Measured on 2026-11-27 (2 shared cores; 1,000,000 CGM rows and 2,640 lab results a night),
bytes (sum of file sizes):

    after 40 nights            pruned (30 kept)   unpruned (ISLETFLOW_DOCS_KEEP_NIGHTS=0)
    whole folder               5,386,794          6,006,840
      validations/ (pages)     1,554,990 (60)     2,073,320 (80)
      _validation_results/       309,806            413,056
      _archive/ (10 zips)         24,496                  -
      index.html                  83,096            106,058
      expectations/               27,890             27,890
      static/                  3,386,516          3,386,516
    seconds a night                 0.49               0.69

static/ is the same in both: the vendored scripts, stylesheets and fonts (3.37 MB) and GX's
logo and favicon; GX's own static/ folder, which it copies into every site, is 4.06 MB (gifs
and fonts no page loads, deleted after each build). Each night kept adds 64.5 KB (the
columns' difference over the 10 nights between them: 51.8 KB of pages, 10.3 KB of JSON,
2.3 KB of index): unpruned, a year of nights is 365 x 64.5 KB = 23.5 MB, and 730 rows on
one index page of 14 KB + 365 x 2.3 KB = 0.85 MB. Pruned, the site stays at its 30-night
size; the archive grows by 2.4 KB a night (0.9 MB a year).

Usage: python bench/gx_docs.py [--nights 40] [--keep 30] [--workdir data/bench/gx_docs]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb

from isletflow.build import CHUNK_ROWS
from isletflow.gx_docs import KEEP_NIGHTS_ENV, build_data_docs
from isletflow.quality import gx_columns
from schemas.gx_suites import GX_SUITES

PARTS = ("validations", "_validation_results", "_archive", "expectations", "static",
         "index.html")


def sample_frames(warehouse: Path) -> dict:
    """{table: (pandas frame, suite)} of the published warehouse, as the nightly build hands
    them to the Data Docs (GX columns only; the first CHUNK_ROWS CGM rows)."""
    frames = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, suite in GX_SUITES.items():
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' "
                "AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()]
            used = ", ".join(gx_columns(suite, columns))
            frames[table] = (con.sql(f"SELECT {used} FROM core.{table} LIMIT {CHUNK_ROWS}").df(),
                             suite)
    return frames


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def simulate(frames: dict, out: Path, nights: int, keep: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    seconds = []
    for night in range(nights):
        t0 = time.perf_counter()
        build_data_docs(frames, out, f"nightly-{night + 1:03d}", keep_nights=keep)
        seconds.append(time.perf_counter() - t0)
    figures = {part: size(out / part) for part in PARTS}
    figures["total"] = size(out)
    figures["pages"] = len(list((out / "validations").rglob("*.html")))
    figures["seconds_per_night"] = sum(seconds) / len(seconds)
    return figures


def screenshot(page: Path, png: Path) -> None:
    """Headless Chromium, no network (host names unresolvable, a dead proxy)."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                        "--virtual-time-budget=10000", "--window-size=1280,1000",
                        "--hide-scrollbars", f"--screenshot={png.resolve()}",
                        page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=40)
    ap.add_argument("--keep", type=int, default=30)
    ap.add_argument("--warehouse", type=Path, default=Path("data/warehouse.duckdb"))
    ap.add_argument("--workdir", type=Path, default=Path("data/bench/gx_docs"))
    args = ap.parse_args()
    frames = sample_frames(args.warehouse)
    print("frames a night:", {t: len(f) for t, (f, _) in frames.items()})
    results = {}
    for label, keep in ((f"pruned ({args.keep} kept)", args.keep), ("unpruned", 0)):
        out = args.workdir / label.split()[0]
        results[label] = simulate(frames, out, args.nights, keep)
        print(f"{label}: {results[label]}")
    print(f"\nafter {args.nights} nights (bytes)   " + "   ".join(results))
    for row in ("total", *PARTS, "pages", "seconds_per_night"):
        print(f"  {row:<22}" + "".join(f"{results[k][row]:>22,.2f}" if isinstance(
            results[k][row], float) else f"{results[k][row]:>22,}" for k in results))
    if shutil.which("chromium"):
        site = args.workdir / "pruned"
        screenshot(site / "index.html", args.workdir / "index-offline.png")
        page = sorted((site / "validations" / "cgm_readings").rglob("*.html"))[-1]
        screenshot(page, args.workdir / "validation-offline.png")
        print(f"\nscreenshots (offline): {args.workdir / 'index-offline.png'}, "
              f"{args.workdir / 'validation-offline.png'}")
    print(f"(setting: {KEEP_NIGHTS_ENV}, here --keep)")


if __name__ == "__main__":
    main()
