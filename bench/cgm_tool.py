"""Benchmark (not a test): ``isletflow cgm-metrics`` vs an iglu-python script, as whole
processes, on the same long CSV (``id,time,gl``) of the sample trial's CGM readings.

Each side is a fresh process started the way a user starts it (imports, reading the CSV,
the metrics, writing them to a CSV). The two sides run in turns, ``repeats`` times each, so
that other work on the machine weighs on both alike; a side's wall time is its best run,
its CPU time (user + system, all threads) its least, its peak memory the largest max RSS
(``os.wait4``: that process's own, started from a small process: see ``run_process``).
iglu-python computes on one thread, isletflow (polars) on all cores, so on an idle machine
its wall time is below its CPU time. The two outputs are compared value by value (mean, SD, CV, GMI, 70-180, 70-140, < 54, < 70, > 180,
> 250 per participant: iglu's and isletflow's definitions are the same on uncensored
readings, tests/test_iglu_differential.py) and must agree to 1e-9.

Usage: python bench/cgm_tool.py [--workdir data/bench] [--repeats 3]
(run by bench/run.py after its 1x scale, on the readings that run wrote).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

TARGET = 10.0  # isletflow at least this many times faster than iglu-python (issue 12, part 5)
TOLERANCE = 1e-9
# iglu-python's result columns -> isletflow's (DESIGN.md "Contracts")
IGLU_COLUMNS = {"mean": "mean_glucose_mg_dl", "SD": "sd_glucose_mg_dl", "CV": "cv_pct",
                "GMI": "gmi_pct", "in_range_70_180": "tir_pct",
                "in_range_70_140": "tir_tight_pct", "below_70": "tbr70_pct",
                "below_54": "tbr54_pct", "above_180": "tar180_pct", "above_250": "tar250_pct"}


def long_csv(readings: Path) -> Path:
    """The long CSV ``id,time,gl`` of ``readings`` (bench/run.py's readings.parquet: the
    sample trial's current CGM readings, one per participant and UTC time), written beside
    it once (again when the parquet is newer): rows by participant and time, as iglu and
    R write a long CGM file; times as ``YYYY-MM-DD hh:mm:ss``; glucose in whole mg/dL."""
    import polars as pl

    out = readings.with_name("readings_long.csv")
    if out.exists() and out.stat().st_mtime >= readings.stat().st_mtime:
        return out
    df = pl.read_parquet(readings).sort("participant_id", "timestamp")
    g = df["glucose_mg_dl"]
    if not (g == g.round()).all():
        raise ValueError("readings.parquet holds glucose that is not whole mg/dL")
    df.select(id="participant_id", time=pl.col("timestamp").dt.strftime("%Y-%m-%d %H:%M:%S"),
              gl=pl.col("glucose_mg_dl").cast(pl.Int64)).write_csv(out)
    return out


def iglu_script(csv: str, out: str) -> None:
    """The iglu-python side, run in its own process: read the CSV with pandas, the same
    metrics as bench/run.py's ``iglu_metrics`` (iglu-python 0.4.3), one row per id, to CSV."""
    import iglu_python as iglu
    import pandas as pd

    long = pd.read_csv(csv)
    long["time"] = pd.to_datetime(long["time"])
    parts = [iglu.mean_glu(long), iglu.sd_glu(long), iglu.cv_glu(long), iglu.gmi(long),
             iglu.in_range_percent(long, target_ranges=[[70, 180], [70, 140]]),
             iglu.below_percent(long, targets_below=[54, 70]),
             iglu.above_percent(long, targets_above=[180, 250])]
    result = parts[0]
    for p in parts[1:]:
        result = result.merge(p, on="id")
    result.to_csv(out, index=False)


# Started by run_process in a fresh interpreter: a child's peak RSS counts the memory of the
# process it was forked from (Linux carries the high-water mark over the exec), so the
# measured command is forked from this small process, not from the benchmark's.
_MEASURE = """import json, os, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, u = os.wait4(p.pid, 0)
print(json.dumps([time.perf_counter() - t0, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024,
                  os.waitstatus_to_exitcode(status)]))
"""


def run_process(cmd: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak MiB) of one process, its own (``os.wait4``)."""
    r = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, check=True)
    seconds, cpu, mib, code = json.loads(r.stdout)
    if code != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({code}): "
                           f"{r.stderr.decode(errors='replace')[-2000:]}")
    return seconds, cpu, mib


def in_turns(cmds: list[list[str]], repeats: int) -> list[tuple[float, float, float]]:
    """Per command: (best wall s, least CPU s, largest peak MiB) of ``repeats`` runs, the
    commands run in turns."""
    runs: list[list[tuple[float, float, float]]] = [[] for _ in cmds]
    for _ in range(repeats):
        for cmd, out in zip(cmds, runs):
            out.append(run_process(cmd))
    return [(min(r[0] for r in rs), min(r[1] for r in rs), max(r[2] for r in rs))
            for rs in runs]


def isletflow_command() -> list[str]:
    exe = Path(sys.executable).with_name("isletflow")
    return [str(exe)] if exe.exists() else [shutil.which("isletflow") or "isletflow"]


def max_difference(ours: Path, theirs: Path) -> float:
    """Largest absolute difference between the two outputs over every participant and
    compared metric; the participants must be the same."""
    import polars as pl

    a = pl.read_csv(ours).sort("participant_id")
    b = pl.read_csv(theirs).rename({"id": "participant_id", **IGLU_COLUMNS}).sort(
        "participant_id")
    if a["participant_id"].to_list() != b["participant_id"].to_list():
        raise AssertionError("isletflow and iglu-python give different participants")
    return max((a[c] - b[c]).abs().max() for c in IGLU_COLUMNS.values())


def cgm_tool_vs_iglu(readings: Path, repeats: int = 3) -> dict[str, float]:
    """Time ``isletflow cgm-metrics`` and the iglu-python script on the long CSV of
    ``readings`` (see :func:`long_csv`), check that they agree to 1e-9, print one line side
    by side; return the figures. Start-up is ``isletflow cgm-metrics --help`` (imports,
    no file read)."""
    csv = long_csv(readings)
    n = sum(1 for _ in csv.open("rb")) - 1
    ours, theirs = csv.with_name("cgm_tool_isletflow.csv"), csv.with_name("cgm_tool_iglu.csv")
    cmd = isletflow_command()
    (t_start, c_start, _), (t_ours, c_ours, m_ours), (t_iglu, c_iglu, m_iglu) = in_turns(
        [[*cmd, "cgm-metrics", "--help"],
         [*cmd, "cgm-metrics", str(csv), "--out", str(ours)],
         [sys.executable, __file__, "--iglu", str(csv), str(theirs)]], repeats)
    diff = max_difference(ours, theirs)
    ratio = t_iglu / t_ours
    print(f"cgm-metrics   isletflow {t_ours:5.2f} s (CPU {c_ours:.2f} s) {m_ours:4.0f} MiB, "
          f"start-up {t_start:.2f} s | iglu-python {t_iglu:5.2f} s (CPU {c_iglu:.2f} s) "
          f"{m_iglu:4.0f} MiB | isletflow {ratio:4.1f}x faster (CPU {c_iglu / c_ours:.1f}x; "
          f"target >= {TARGET:.0f}x: {'met' if ratio >= TARGET else 'NOT met'}) | whole "
          f"processes, long CSV of {n:,} readings, best of {repeats}; values agree to "
          f"{diff:.1e}{'' if diff <= TOLERANCE else ' > 1e-9: DIFFER'}")
    if diff > TOLERANCE:
        raise AssertionError(f"isletflow and iglu-python differ by {diff} (> {TOLERANCE})")
    return {"isletflow_s": t_ours, "isletflow_cpu_s": c_ours, "isletflow_mib": m_ours,
            "startup_s": t_start, "startup_cpu_s": c_start, "iglu_s": t_iglu,
            "iglu_cpu_s": c_iglu, "iglu_mib": m_iglu, "ratio": ratio, "readings": n,
            "max_difference": diff}


def readings_parquet(workdir: Path) -> Path:
    """bench/run.py's 1x readings (``<workdir>/x1/readings.parquet``), made as run.py makes
    them when missing (the sample trial generated, ingested, current readings kept)."""
    parquet = workdir / "x1" / "readings.parquet"
    if not parquet.exists():
        import run

        dirs = run.make_trials(workdir / "trials", 1)
        run.measure(run.ingest, dirs, workdir / "x1" / "frame", True)
    return parquet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("data/bench"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iglu", nargs=2, metavar=("CSV", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.iglu:
        iglu_script(*args.iglu)
        return
    cgm_tool_vs_iglu(readings_parquet(args.workdir), args.repeats)


if __name__ == "__main__":
    main()
