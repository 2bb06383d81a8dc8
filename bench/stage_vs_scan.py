"""Benchmark (not a test): staging of CGM exports (isletflow's readers, polars parse, Parquet
partition) against DuckDB's read_csv of the same files, to show what a parse with DuckDB
would cost. Each measurement runs in its own process (bench/run.py ``measure``): wall time and
CPU time (user + system of that process) of the work, imports excluded, and the process's
peak RSS. Rounds are interleaved and the fastest round is printed, as the machine may be
shared (CPU time is the steadier figure there).

- stage        ``stage_export`` of every file (refresh), 2 threads as ``ingest`` and the flow
- stage 1 thr  the same one file at a time; also the time of the largest file
- parse        the readers alone (``read_export``: detect, polars parse, checks), no write
- scan         bench/run.py ``duckdb_scan``: the floor ``make bench`` compares ingest with
- duck parse   DuckDB ``read_csv`` of each file with the reader's own layout as explicit
               options (delimiter, quote, escape, header line, column count, all VARCHAR: no
               sniffing), only the reader's kept columns fetched to Arrow; one in-memory
               connection per file, 1 thread: what the parse would cost in DuckDB
- duck stage   the same written by DuckDB ``COPY ... TO (FORMAT parquet, COMPRESSION lz4,
               KV_METADATA)``, 2 threads: a lower bound of staging with DuckDB (it makes no
               truncated-row, extra-field, record-line or decimal-mark check)

Usage: python bench/stage_vs_scan.py [--landing data/landing] [--rounds 3]
(a landing folder of N copies, e.g. links to the sample trial's files under site folders
``CA01c0`` ... ``US01c9``, measures N x; each copy stages to its own partition)
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import resource
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run import duckdb_scan, measure

# The reader's layout as read_csv options; kept columns carry their raw names, the others
# (personal data, columns not loaded) ``_<position>`` and are never selected. A quoted empty
# field stays '' as the reader (polars) reads it (read_csv's default makes it NULL).
READ_KEPT = """
SELECT COLUMNS('^[a-z]') FROM read_csv($path, auto_detect = false, delim = $delim,
    quote = '"', escape = '"', header = false, skip = $skip, columns = $columns,
    null_padding = true, allow_quoted_nulls = false)
"""
COPY_KEPT = """
COPY (SELECT $file_id AS file_id, $first_line + row_number() OVER () - 1 AS row_number,
             COLUMNS('^[a-z]')
      FROM read_csv($path, auto_detect = false, delim = $delim, quote = '"', escape = '"',
                    header = false, skip = $skip, columns = $columns, null_padding = true,
                    allow_quoted_nulls = false))
TO $out (FORMAT parquet, COMPRESSION lz4, KV_METADATA {problems: '[]', reader_code: $code})
"""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Clock:
    """Wall and CPU seconds of the work itself (imports done before it starts)."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_seconds() - self.cpu


def cgm_paths(landing: Path) -> list[Path]:
    return sorted(landing.glob("*/cgm/*.csv"))


def landing_files(landing: Path) -> list:
    """The CGM files as landing records; the digest is of content and path, so that copies
    of one export (a scaled landing folder of links) stage to partitions of their own."""
    from isletflow.landing import LandingFile, sha256_of

    out = []
    for p in cgm_paths(landing):
        st = p.stat()
        digest = hashlib.sha256(f"{sha256_of(p)} {p}".encode()).hexdigest()
        out.append(LandingFile(p, p.name, p.parts[-3], "cgm", p.stem.split("__")[0], digest,
                               st.st_size, dt.datetime.fromtimestamp(st.st_mtime)))
    return out


def stage(landing: Path, threads: int) -> dict:
    """``stage_export`` of every CGM file into a fresh stage folder."""
    from isletflow.staging import stage_export

    files = landing_files(landing)
    work = Path(tempfile.mkdtemp(prefix="stage_bench_"))
    largest = max(files, key=lambda f: f.size_bytes)
    times: dict[str, float] = {}

    def one(f) -> int:
        t0 = time.perf_counter()
        n = stage_export(f, work, refresh=True).n_rows
        times[f.rel_path] = time.perf_counter() - t0
        return n

    with Clock() as clock, ThreadPoolExecutor(max_workers=threads) as pool:
        rows = sum(pool.map(one, files))
    shutil.rmtree(work)
    return {"rows": rows, "wall": clock.wall, "cpu": clock.cpu,
            "largest": times[largest.rel_path]}


def parse(landing: Path) -> dict:
    """The readers alone, one file at a time."""
    from isletflow.readers import read_export

    with Clock() as clock:
        rows = sum(read_export(p)[1].height for p in cgm_paths(landing))
    return {"rows": rows, "wall": clock.wall, "cpu": clock.cpu}


def scan(landing: Path) -> dict:
    import duckdb  # noqa: F401  (imported before the clock starts, as the others are)

    with Clock() as clock:
        rows = duckdb_scan([landing])
    return {"rows": rows, "wall": clock.wall, "cpu": clock.cpu}


def reader_layout(path: Path) -> dict:
    """The read_csv options of ``path`` from its reader's header match (the header found
    below any preamble; kept columns named as the raw layer names them)."""
    from isletflow.readers.clarity import CLARITY
    from isletflow.readers.detect import detect_format
    from isletflow.readers.libreview import LIBRE
    from isletflow.readers.text import HEAD_BYTES, find_header, head_text, split_lines

    aliases = CLARITY if detect_format(path) == "dexcom_clarity" else LIBRE
    layout = find_header(split_lines(head_text(path)[0][:HEAD_BYTES]), aliases.is_header)
    keep = aliases.match(path.name, layout.header).keep
    n = len(layout.header) + 1  # one spare column for fields beyond the header
    return {"path": str(path), "delim": layout.delimiter, "skip": layout.header_line,
            "columns": {keep.get(i, f"_{i}"): "VARCHAR" for i in range(n)}}


def duck_parse(landing: Path) -> dict:
    import duckdb

    import isletflow.readers  # noqa: F401  (reader_layout's imports, before the clock)

    rows, largest, size = 0, 0.0, -1
    with Clock() as clock:
        for p in cgm_paths(landing):
            t0 = time.perf_counter()
            con = duckdb.connect(config={"threads": 1})
            rows += con.sql(READ_KEPT, params=reader_layout(p)).to_arrow_table().num_rows
            con.close()
            if p.stat().st_size > size:
                size, largest = p.stat().st_size, time.perf_counter() - t0
    return {"rows": rows, "wall": clock.wall, "cpu": clock.cpu, "largest": largest}


def duck_stage(landing: Path, threads: int) -> dict:
    import duckdb

    import isletflow.readers  # noqa: F401  (reader_layout's imports, before the clock)

    work = Path(tempfile.mkdtemp(prefix="duck_stage_bench_"))
    paths = cgm_paths(landing)
    times: dict[Path, float] = {}

    def one(i: int, p: Path) -> int:
        t0 = time.perf_counter()
        con = duckdb.connect(config={"threads": 1})
        opts = reader_layout(p)
        n = con.execute(COPY_KEPT, {**opts, "file_id": p.stem, "first_line": opts["skip"] + 1,
                                    "out": str(work / f"{i}.parquet"), "code": "bench"}
                        ).fetchone()[0]
        con.close()
        times[p] = time.perf_counter() - t0
        return n

    with Clock() as clock, ThreadPoolExecutor(max_workers=threads) as pool:
        rows = sum(pool.map(one, range(len(paths)), paths))
    shutil.rmtree(work)
    return {"rows": rows, "wall": clock.wall, "cpu": clock.cpu,
            "largest": times[max(paths, key=lambda p: p.stat().st_size)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--landing", type=Path, default=Path("data/landing"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    runs = {"stage": (stage, 2), "stage 1 thr": (stage, 1), "parse": (parse,),
            "scan": (scan,), "duck parse": (duck_parse,), "duck stage": (duck_stage, 2)}
    best: dict[str, tuple[float, dict]] = {}
    for _ in range(args.rounds):
        for name, (fn, *extra) in runs.items():
            _, mib, out = measure(fn, args.landing, *extra)
            if name not in best or out["wall"] < best[name][1]["wall"]:
                best[name] = (mib, out)
    paths = cgm_paths(args.landing)
    print(f"{len(paths)} CGM files, {sum(p.stat().st_size for p in paths) / 1e6:.1f} MB; "
          f"largest {max(p.stat().st_size for p in paths) / 1e6:.1f} MB; "
          f"fastest of {args.rounds} rounds")
    wall0, cpu0 = best["scan"][1]["wall"], best["scan"][1]["cpu"]
    for name, (mib, out) in best.items():
        largest = f" | largest file {out['largest'] * 1000:6.1f} ms" if "largest" in out else ""
        print(f"{name:12s} wall {out['wall']:6.2f} s ({out['wall'] / wall0:4.2f}x scan) "
              f"cpu {out['cpu']:6.2f} s ({out['cpu'] / cpu0:4.2f}x) peak {mib:5.0f} MiB "
              f"rows {out['rows']:,}{largest}")


if __name__ == "__main__":
    main()
