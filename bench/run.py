"""Benchmark (not a test): isletflow's CGM metrics vs iglu-python, and isletflow's ingest plus
metrics vs a plain DuckDB read_csv scan of the same files, at 1x and 10x the sample trial.

Each measurement runs in its own process, so its wall time and peak memory (max RSS) are its
own. Figures are printed side by side with their ratios; nothing is asserted.
Usage: python bench/run.py [--scales 1 10] [--workdir data/bench]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
import shutil
import time
from pathlib import Path

CGM_FORMATS = ("dexcom_clarity", "libreview")


def _child(q: mp.Queue, fn, args) -> None:
    try:
        t0 = time.perf_counter()
        result = fn(*args)
        q.put((time.perf_counter() - t0,
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, result))
    except BaseException as err:  # the parent must not wait for a result that never comes
        q.put(err)
        raise


def measure(fn, *args):
    """(seconds, peak MiB, result) of fn(*args) in a fresh (spawned) process."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, fn, args))
    p.start()
    out = q.get()
    p.join()
    if isinstance(out, BaseException) or p.exitcode != 0:
        raise RuntimeError(f"{fn.__name__} failed in its process: {out!r}")
    return out


def make_trials(root: Path, copies: int) -> list[Path]:
    from isletflow.demo import generate_trial

    dirs = []
    for c in range(copies):
        d = root / f"copy{c:02d}"
        if not d.exists():
            generate_trial(d, seed=1000 + c, faults=False)
        dirs.append(d)
    return dirs


def cgm_files(dirs: list[Path]) -> list[tuple[int, Path]]:
    return [(c, f) for c, d in enumerate(dirs) for f in sorted(d.glob("*/cgm/*.csv"))]


def ingest(dirs: list[Path], work: Path, keep: bool = False) -> int:
    """isletflow's path for CGM exports: read + stage each file (Parquet), load raw, harmonise
    with the core SQL (time zones, units, censoring), resolve overlaps, compute window-free
    per-participant consensus metrics. Returns the number of participants with metrics.
    With ``keep``, the harmonised readings are written to ``<work>/../readings.parquet``."""
    from concurrent.futures import ThreadPoolExecutor

    import polars as pl

    from isletflow.build import harmonise_cgm
    from isletflow.endpoints.cgm_metrics import cgm_metrics
    from isletflow.landing import LandingFile, sha256_of
    from isletflow.staging import stage_export
    from isletflow.trial import load_trial
    from isletflow.warehouse import connect, load_raw, load_trial_rows, run_sql, write_table

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    con = connect(work / "bench.duckdb")  # the warehouse's own connection settings
    for name in ("schemas.sql", "audit/tables.sql", "raw/tables.sql", "quality/tables.sql"):
        run_sql(con, name)
    load_trial_rows(con, load_trial(), "trial0000000000f")  # the sample trial's sites
    run_sql(con, "core/00_sites.sql")
    staged: dict[str, list[str]] = {f: [] for f in CGM_FORMATS}
    audit, parts = [], []

    def landing_file(c: int, path: Path) -> LandingFile:
        st = path.stat()
        return LandingFile(path, path.name, path.parts[-3], "cgm",
                           f"{path.stem.split('__')[0]}-c{c}", sha256_of(path), st.st_size,
                           dt.datetime.fromtimestamp(st.st_mtime))

    files = [landing_file(c, p) for c, p in cgm_files(dirs)]
    # files are staged concurrently, as the flow's mapped Prefect tasks do (2 threads here)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda f: stage_export(f, work / "stage", refresh=True), files))
    for lf, s in zip(files, results):
        digest = lf.sha256
        staged[s.export_format].append(str(s.parquet))
        audit.append((lf.file_id, digest, lf.site_id, "cgm", f"{lf.participant_id}/{lf.rel_path}",
                      lf.participant_id, lf.size_bytes, lf.received_at, s.export_format, "b"))
        parts.append((lf.participant_id, lf.site_id))
    con.executemany("INSERT INTO audit.files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", audit)
    write_table(con, "core.participants", pl.DataFrame(sorted(set(parts)),
                                                       schema=["participant_id", "site_id"],
                                                       orient="row"))
    for fmt, files in staged.items():
        if files:
            load_raw(con, fmt, files)  # a view over the partitions, as the build has it
    run_sql(con, "core/01b_quarantined_files.sql")
    harmonise_cgm(con, results)  # in chunks of files, as the nightly build does
    for name in ("resolve/00_cgm_status_column.sql", "resolve/01_cgm_overlaps.sql"):
        run_sql(con, name)
    readings = con.sql("SELECT participant_id, timestamp_utc AS timestamp, glucose_mg_dl, "
                       "censored, interval_min FROM core.cgm_readings "
                       "WHERE record_status = 'current' AND device <> 'libre_scan'").pl()
    con.close()  # the build is done: DuckDB's buffers go before the metrics (as in the flow)
    if keep:
        readings.write_parquet(work.parent / "readings.parquet")
    # current readings are one per participant, device and time: no dedupe (as the flow calls it)
    return cgm_metrics(readings, dedupe=False).height


_OPTS = {"en": "delim=',', header=true, skip=0", "de": "delim=';', header=true, skip=0",
         "libre": "delim=',', header=true, skip=1"}


def _names(kind: str) -> str:
    return ", ".join(f"'column{i:02d}'" for i in range(19 if kind == "libre" else 14))


def _files_by_kind(dirs: list[Path]) -> dict[str, list[str]]:
    by_kind: dict[str, list[str]] = {"en": [], "de": [], "libre": []}
    for _, f in cgm_files(dirs):
        head = f.read_bytes()[:64].decode("utf-8-sig", errors="replace")
        kind = "libre" if head.startswith("Glucose Data") else ("de" if ";" in head else "en")
        by_kind[kind].append(str(f))
    return by_kind


def duckdb_scan(dirs: list[Path]) -> int:
    """The floor: DuckDB's read_csv over the same files (explicit options), counting rows and
    averaging the glucose column as text-to-number, no harmonisation."""
    import duckdb

    con = duckdb.connect()
    n = 0
    col = {"en": "column07", "de": "column07", "libre": "column04"}
    for kind, files in _files_by_kind(dirs).items():
        if files:
            n += con.execute(
                f"SELECT count(*), avg(TRY_CAST(replace({col[kind]}, ',', '.') AS DOUBLE)) "
                f"FROM read_csv($f, {_OPTS[kind]}, all_varchar=true, names=[{_names(kind)}], "
                "null_padding=true, ignore_errors=true)", {"f": files}).fetchone()[0]
    return n


def duckdb_load(dirs: list[Path], work: Path) -> int:
    """A bare warehouse load, for context: the same read_csv scan written as text rows into a
    DuckDB file table (no harmonisation, no second layer). Writing rows to DuckDB's storage
    is what the scan alone does not pay; isletflow writes raw and core."""
    import duckdb

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    con = duckdb.connect(str(work / "load.duckdb"))
    con.execute("SET preserve_insertion_order = false")
    n = 0
    for kind, files in _files_by_kind(dirs).items():
        if files:
            con.execute(f"CREATE TABLE {kind} AS SELECT * FROM read_csv($f, {_OPTS[kind]}, "
                        f"all_varchar=true, names=[{_names(kind)}], null_padding=true, "
                        "ignore_errors=true, union_by_name=true)", {"f": files})
            n += con.execute(f"SELECT count(*) FROM {kind}").fetchone()[0]
    con.close()
    return n


def isletflow_metrics(parquet: Path) -> float:
    """Seconds for isletflow's metrics on the frame already in memory (load not counted)."""
    import polars as pl

    from isletflow.endpoints.cgm_metrics import cgm_metrics

    frame = pl.read_parquet(parquet)
    t0 = time.perf_counter()
    cgm_metrics(frame, dedupe=False)  # current readings: one per participant and time already
    return time.perf_counter() - t0


def iglu_metrics(parquet: Path) -> float:
    """Seconds for iglu-python's same metrics on the same frame in memory (load not counted).
    Censored readings are given to iglu as missing, as iglu itself treats Low/High."""
    import iglu_python as iglu
    import pandas as pd

    df = pd.read_parquet(parquet)
    long = pd.DataFrame({"id": df["participant_id"], "time": df["timestamp"],
                         "gl": df["glucose_mg_dl"].where(df["censored"].isna())})
    t0 = time.perf_counter()
    for f in (iglu.mean_glu, iglu.sd_glu, iglu.cv_glu, iglu.gmi):
        f(long)
    iglu.in_range_percent(long, target_ranges=[[70, 180], [70, 140]])
    iglu.below_percent(long, targets_below=[54, 70])
    iglu.above_percent(long, targets_above=[180, 250])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--workdir", type=Path, default=Path("data/bench"))
    ap.add_argument("--iglu-scales", type=int, nargs="*", default=None,
                    help="scales at which iglu-python is run too (default: all); iglu took 382 s on the "
                         "10x frame (12.8 M readings) here")
    ap.add_argument("--nightly", type=int, nargs="*", default=[],
                    help="scales at which `isletflow run` is measured as a process (bench/scale.py): "
                         "1 = the sample trial, cold and no-change night; N > 1 = a generated "
                         "N x trial, cold and one incremental night, disk per layer")
    args = ap.parse_args()
    import polars as pl

    for scale in args.scales:
        work = args.workdir / f"x{scale}"
        t0 = time.perf_counter()
        dirs = make_trials(args.workdir / "trials", scale)
        print(f"\n== scale x{scale}: {len(dirs)} sample trial(s), "
              f"{len(cgm_files(dirs))} CGM files, ready in {time.perf_counter() - t0:.0f} s")
        measure(ingest, dirs, work / "frame", True)  # writes the readings both implementations get
        parquet = work / "readings.parquet"
        n = pl.scan_parquet(parquet).select(pl.len()).collect().item()
        print(f"frame: {n:,} readings")
        _, mi, ti = measure(isletflow_metrics, parquet)
        if args.iglu_scales is None or scale in args.iglu_scales:
            _, mg, tg = measure(iglu_metrics, parquet)
            print(f"CGM metrics   isletflow {ti:8.3f} s {mi:7.0f} MiB | iglu-python {tg:8.3f} s "
                  f"{mg:7.0f} MiB | isletflow {tg / ti:6.1f}x faster (target >= 30x; "
                  "in-memory frame, load and imports not counted)")
        else:
            print(f"CGM metrics   isletflow {ti:8.3f} s {mi:7.0f} MiB | iglu-python not run "
                  "at this scale (--iglu-scales)")
        if scale == 1:  # `isletflow cgm-metrics` vs iglu-python as whole processes (issue 12.5)
            from cgm_tool import cgm_tool_vs_iglu
            cgm_tool_vs_iglu(parquet)
        tn, mn, _ = measure(ingest, dirs, work / "ingest")
        ts, ms, rows = measure(duckdb_scan, dirs)
        print(f"ingest+metrics isletflow {tn:7.2f} s {mn:7.0f} MiB | duckdb read_csv scan "
              f"{ts:6.2f} s {ms:7.0f} MiB ({rows:,} rows) | ratio {tn / ts:5.2f}x "
              "(target <= 2x)")
        tl, ml, _ = measure(duckdb_load, dirs, work / "load")
        print(f"context       duckdb read_csv into a DuckDB file table (text rows, one layer) "
              f"{tl:6.2f} s {ml:7.0f} MiB | isletflow / that load {tn / tl:5.2f}x")
        print(f"ingest rate   {n / tn:,.0f} readings/s")
    if args.nightly:
        from scale import nightly_bench  # bench/scale.py

        nightly_bench(args.workdir, args.nightly)


if __name__ == "__main__":
    main()
