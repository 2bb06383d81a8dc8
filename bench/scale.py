"""Benchmark (not a test) of the nightly run as a whole process: ``isletflow run`` on the sample
trial and on a generated trial of N x its participants.

* 1x, the sample trial as ``isletflow demo-data`` writes it (trials/islet-101.toml, 14
  participants, its planted faults): a cold run on a fresh warehouse (no warehouse, no stage
  folder), then the same command again with no new file (the no-change night).
* N x (N > 1): ``generate_trial(scale=N)`` (isletflow/demo/scale.py: N copies of the sample's
  participants under new IDs, no planted faults), less the files of one "next night", which
  are held back: at each site the files of its last REDCap export day and its lab's last
  cumulative transfer, and per participant a new CGM export: the last 14 days (by local date)
  of the readings of its latest export, written as the device re-exports them (the same
  layout, preamble and rows; Clarity's index renumbered, LibreView's "Generated on" the night's).
  The night's files are received (file time) at 06:00 UTC on the day after the last file of
  the cold landing. Cold run on a fresh warehouse, then the night's files are put into the
  landing folder (hard links) and the same command runs again; then the disk used.

Every run is ``isletflow run --no-summary`` as a subprocess, in the project folder, with the
Makefile's Prefect settings where the environment has none (PREFECT_HOME=.prefect: Prefect's
temporary server, started by the run). The runs at N > 1 and the generation run under
``nice``. What is measured (nothing is asserted; targets printed beside the figures):

* wall: from starting the process to its exit.
* flow: the flow's own work, from Prefect's log line "Beginning flow run" of the nightly flow
  to the flow's line "nightly run ... published" (the flow run's "Finished in state" line if
  that is absent); both timestamps are Prefect's (ms). wall - flow is Python's start,
  imports, Prefect's temporary server start and stop and the flow run's bookkeeping.
* phases: from the same log: the end of each task (all "stage ..." file tasks as one,
  "stage") minus the end of the phase before (the first: minus the flow's start).
* peak RSS: ``max``, the largest RSS any single process of the run reached (``os.wait4``'s
  ``ru_maxrss`` of the run: the process and every descendant it waited for, as GNU time's
  "Maximum resident set size"); ``tree``, the largest sum of RSS over the run's process tree,
  sampled every 0.25 s from /proc (pages shared between processes counted in each).
* disk per layer: each warehouse table's storage segments (DuckDB ``pragma_storage_info``:
  block id and offset of every column segment, its additional blocks) are attributed the
  bytes from their offset to the next segment in the same block (or the block's end), plus
  one block per additional block, summed per schema; printed with the file's size (the rest
  is free blocks and metadata). Folders: bytes allocated on disk (``du``: st_blocks x 512).

A run over the time or memory limit (default 25 min, 8 GiB tree) is stopped (SIGTERM, then
SIGKILL, to its process group) and reported with the last phase it finished.
Usage: python bench/scale.py [--scales 1 100] [--workdir data/bench]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAIL_DAYS = 14             # the night's CGM export: the last two weeks
SAMPLE_EVERY_S = 0.25
LIMIT_S = 25 * 60          # a run is stopped after this long ...
LIMIT_MIB = 8 * 1024       # ... or when its process tree holds more than this
NICE = 10                  # niceness of the N > 1 runs and the generation
MANIFEST = "trial.json"
# disk estimate per 1x of participants (measured on the sample trial: landing 114 MB, stage
# 35 MB, warehouse 77 MB, published plus the run's build copy beside it), in bytes
PER_1X_LANDING, PER_1X_RUN = 120e6, 200e6
TARGETS = {"cold_s": 600, "cold_mib": 4096, "night_s": 60, "no_change_flow_s": 5,
           "rss_1x_mib": 1024}


# ---- running `isletflow run` as a process ----------------------------------------------------

@dataclass
class Run:
    """One measured process. ``stopped``: why the harness ended it (None: it exited)."""

    label: str
    wall_s: float
    rc: int | None
    max_mib: float
    tree_mib: float
    log: Path
    stopped: str | None = None
    flow_s: float | None = None
    phases: list[tuple[str, float]] = field(default_factory=list)
    files: str = ""  # the CLI's "N files (M unchanged), ..." line
    staged: int = 0  # file tasks finished ("stage ..." tasks in state Completed)


def _tree_rss_mib(root: int) -> float:
    """Sum of the RSS of ``root`` and its descendants now (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_process(label: str, cmd: list[str], log: Path, nice: int = 0, limit_s: float = LIMIT_S,
                limit_mib: float = LIMIT_MIB) -> Run:
    """Run ``cmd`` (stdout and stderr to ``log``), measuring it (module docstring)."""
    env = os.environ.copy()
    env.setdefault("PREFECT_HOME", str(ROOT / ".prefect"))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    env["COLUMNS"] = "200"  # the CLI's last line unwrapped
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen([*(["nice", "-n", str(nice)] if nice else []), *cmd], cwd=ROOT,
                             env=env, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)  # its own process group, to stop it whole
        tree, stopped, killed_at = 0.0, None, None
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            tree = max(tree, _tree_rss_mib(p.pid))
            elapsed = time.perf_counter() - t0
            if stopped is None and (elapsed > limit_s or tree > limit_mib):
                stopped = (f"over {limit_s / 60:.0f} min" if elapsed > limit_s else
                           f"over {limit_mib / 1024:.0f} GiB") + f" after {elapsed:.0f} s"
                os.killpg(p.pid, signal.SIGTERM)
                killed_at = elapsed
            elif killed_at is not None and elapsed > killed_at + 30:
                os.killpg(p.pid, signal.SIGKILL)
            time.sleep(SAMPLE_EVERY_S)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if stopped:
        try:  # anything of its group still running (Prefect's server) goes too
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    r = Run(label, wall, p.returncode, usage.ru_maxrss / 1024, tree, log, stopped)
    _read_log(r)
    return r


_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) \| \w+\s*\| (.*)$")


def _read_log(r: Run) -> None:
    """The flow's work time and phases from Prefect's log lines (module docstring)."""
    text = r.log.read_text(errors="replace")
    flat = " ".join(text.split())
    m = re.search(r"published \S+ in [\d.]+ s: (\d+ files \(\d+ unchanged\), \d+ not loaded)",
                  flat)
    r.files = m.group(1) if m else ""
    start = end = flow = None
    ends: dict[str, float] = {}
    last, day = 0.0, 0.0
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        t = int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) + int(m[4]) / 1000 + day
        if t < last - 3600:  # past midnight
            day += 86400
            t += 86400
        last, msg = t, m[5]
        if flow is None:
            b = re.match(r"Flow run '([^']+)' - Beginning flow run .* for flow 'nightly'", msg)
            if b:
                flow, start = b[1], t
            continue
        if msg.startswith(f"Flow run '{flow}' - nightly run ") and " published" in msg:
            end = t
        elif msg.startswith(f"Flow run '{flow}' - Finished in state") and end is None:
            end = t
        task = re.match(r"Task run '([^']+)' - Finished in state", msg)
        if task:
            name = task[1]
            name = "stage" if name.startswith("stage ") else re.sub(r"-[0-9a-f]{3,}$", "", name)
            r.staged += name == "stage" and "state Completed" in msg
            ends[name] = t
    if start is None:
        return
    r.flow_s = end - start if end is not None else None
    prev = start
    for name, t in sorted(ends.items(), key=lambda kv: kv[1]):
        r.phases.append((name, t - prev))
        prev = t


def isletflow_run(label: str, landing: Path, warehouse: Path, trial: Path, log: Path,
                  nice: int = 0) -> Run:
    cmd = [str(Path(sys.executable).parent / "isletflow"), "run", "--trial", str(trial),
           "--landing", str(landing), "--warehouse", str(warehouse), "--no-summary"]
    return run_process(label, cmd, log, nice)


# ---- the trials --------------------------------------------------------------------------------

def _du(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (st_blocks x 512, as du counts)."""
    if not path.exists():
        return 0
    return sum(p.lstat().st_blocks * 512 for p in [path, *path.rglob("*")])


def _received_day(path: Path) -> dt.date:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date()


def _set_time(path: Path, when: dt.datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def generate_scaled(scale: int, root: Path, seed: int) -> dict:
    """Write the N x trial under ``root``: ``landing/`` (the cold run's files) and ``night/``
    (the next night's, module docstring); returns what was written."""
    from isletflow.demo import generate_trial
    from isletflow.demo.cgm import LIBRE_TIMESTAMPS
    from isletflow.demo.plans import plan_for
    from isletflow.demo.scale import scaled_plan, tail_export
    from isletflow.trial import load_trial

    landing, night = root / "landing", root / "night"
    shutil.rmtree(landing, ignore_errors=True)
    shutil.rmtree(night, ignore_errors=True)
    t0 = time.perf_counter()
    m = generate_trial(landing, seed=seed, faults=False, scale=scale)
    trial = load_trial()
    plan = scaled_plan(plan_for(trial), scale, trial)
    last = max(_received_day(p) for p in landing.rglob("*") if p.is_file())
    held: list[Path] = []
    for site in trial.site_ids:
        edc = sorted((landing / site / "edc").glob("*"))
        if edc:
            day = max(_received_day(p) for p in edc)
            held += [p for p in edc if _received_day(p) == day]
        lab = sorted((landing / site / "lab").glob("*"), key=lambda p: (p.stat().st_mtime, p.name))
        held += lab[-1:]
    for p in held:  # out of the cold landing, into the night's
        dest = night / p.relative_to(landing)
        dest.parent.mkdir(parents=True, exist_ok=True)
        p.rename(dest)
    received = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(6), tzinfo=dt.UTC)
    new_cgm = 0
    for p in plan.profiles:
        site, habit = p.participant_id.split("-")[0], plan.cgm_habit(p)
        exports = sorted((landing / site / "cgm").glob(f"{p.participant_id}__*"),
                         key=lambda f: (f.stat().st_mtime, f.name))
        latest = exports[-1]
        stem = latest.stem.rsplit("_", 1)[0]  # <pid>__clarity_export / <pid>__libreview
        text = tail_export(latest.read_bytes().decode("utf-8"), habit.device,
                           ";" if habit.language == "de" else ",",
                           LIBRE_TIMESTAMPS[habit.timestamps], TAIL_DAYS,
                           received - dt.timedelta(hours=1))
        dest = night / site / "cgm" / f"{stem}_night.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(text.encode("utf-8"))
        new_cgm += 1
    for p in night.rglob("*"):
        if p.is_file():
            _set_time(p, received)
    info = {"scale": scale, "seed": seed, "participants": len(m.participants),
            "cgm_rows": m.n_cgm_rows, "generated_s": round(time.perf_counter() - t0, 1),
            "generated_on": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "files": sum(1 for p in landing.rglob("*") if p.is_file()),
            "night_received": received.isoformat(),
            "night_files": sorted(p.relative_to(night).as_posix() for p in night.rglob("*")
                                  if p.is_file()),
            "night_cgm": new_cgm}
    (root / MANIFEST).write_text(json.dumps(info, indent=1))
    return info


def prepare(scale: int, root: Path, seed: int) -> tuple[dict, bool]:
    """The trial of this scale under ``root``, generated (in a niced process) or reused;
    (manifest, reused)."""
    manifest = root / MANIFEST
    if manifest.exists() and (root / "landing").is_dir():
        info = json.loads(manifest.read_text())
        if info.get("scale") == scale and info.get("seed") == seed:
            return info, True
    root.mkdir(parents=True, exist_ok=True)
    if scale == 1:
        from isletflow.demo import generate_trial

        shutil.rmtree(root / "landing", ignore_errors=True)
        t0 = time.perf_counter()
        m = generate_trial(root / "landing", seed=seed)  # the sample trial, as demo-data
        info = {"scale": 1, "seed": seed, "participants": len(m.participants),
                "cgm_rows": m.n_cgm_rows, "files": len(m.files),
                "generated_s": round(time.perf_counter() - t0, 1),
                "generated_on": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "night_files": []}
        manifest.write_text(json.dumps(info, indent=1))
        return info, False
    gen = run_process(f"generate x{scale}",
                      [sys.executable, str(Path(__file__).resolve()), "--generate", str(scale),
                       "--root", str(root), "--seed", str(seed)],
                      root / "generate.log", nice=NICE, limit_s=4 * 3600, limit_mib=16 * 1024)
    if gen.rc != 0 or not manifest.exists():
        raise RuntimeError(f"generating the x{scale} trial failed ({gen.stopped or gen.rc}); "
                           f"see {gen.log}")
    info = json.loads(manifest.read_text())
    info["generate_peak_mib"] = round(gen.max_mib)
    manifest.write_text(json.dumps(info, indent=1))
    return info, False


def _place_night(root: Path, on: bool) -> None:
    """Put the night's files into the landing folder (hard links) or take them out."""
    for rel in json.loads((root / MANIFEST).read_text()).get("night_files", []):
        dest = root / "landing" / rel
        dest.unlink(missing_ok=True)
        if on:
            os.link(root / "night" / rel, dest)


# ---- disk per layer ----------------------------------------------------------------------------

LAYERS = ("raw", "core", "quality", "endpoints", "audit")


def layer_bytes(warehouse: Path) -> tuple[dict[str, int], int]:
    """Bytes of the warehouse's storage attributed to each schema (module docstring), and
    the file's size."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        block = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
        tables = con.execute("SELECT schema_name, schema_name || '.' || table_name "
                             "FROM duckdb_tables() WHERE database_name = current_database()"
                             ).fetchall()
        segments = []
        for schema, name in tables:
            for block_id, offset, extra in con.execute(
                    "SELECT block_id, block_offset, len(additional_block_ids) "
                    "FROM pragma_storage_info(?) WHERE persistent AND block_id >= 0", [name]
            ).fetchall():
                segments.append((block_id, offset, extra, schema))
    finally:
        con.close()
    segments.sort()
    out = dict.fromkeys(LAYERS, 0)
    for i, (block_id, offset, extra, schema) in enumerate(segments):
        nxt = segments[i + 1] if i + 1 < len(segments) else None
        end = nxt[1] if nxt and nxt[0] == block_id else block
        out[schema] = out.get(schema, 0) + (end - offset) + extra * block
    return out, warehouse.stat().st_size


# ---- the benchmark -----------------------------------------------------------------------------

def _mib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def _ok(v: float | None, target: float) -> str:
    return "n/a" if v is None else ("met" if v <= target else "NOT met")


def _line(r: Run) -> str:
    flow = f"{r.flow_s:7.1f} s" if r.flow_s is not None else "    n/a"
    prefect = f"{r.wall_s - r.flow_s:5.1f} s" if r.flow_s is not None else "  n/a"
    s = (f"{r.label:<14} wall {r.wall_s:7.1f} s | flow {flow} | process+Prefect {prefect} | "
         f"peak RSS max {r.max_mib:6.0f} MiB, tree {r.tree_mib:6.0f} MiB")
    if r.stopped:
        s += f" | STOPPED: {r.stopped}, exit {r.rc}"
    elif r.rc != 0:
        s += f" | FAILED (exit {r.rc}): see {r.log}"
    return s


def _phases(r: Run) -> str:
    got = ", ".join(f"{n} {t:.1f}" for n, t in r.phases)
    return f"{'':14} phases (s, log): {got or 'none logged'}" + (
        f"; {r.files}" if r.files else f"; {r.staged} file tasks completed")


def nightly_bench(workdir: Path, scales: list[int], seed_1x: int = 20250620,
                  seed_scaled: int = 2000) -> None:
    """Measure the nightly run as a process at each scale (module docstring) and print."""
    trial = ROOT / "trials" / "islet-101.toml"
    print("\n== nightly run as a process (isletflow run; wall: the process; flow: Prefect's log, "
          "'Beginning flow run' to 'published'; peak RSS max: largest process of the run, "
          "tree: sum over its processes, sampled)")
    for scale in scales:
        root = (workdir / "nightly" / f"x{scale}").resolve()
        run_dir = root / "run"
        need = PER_1X_RUN * scale + (0 if (root / MANIFEST).exists() else PER_1X_LANDING * scale)
        free = shutil.disk_usage(workdir if workdir.exists() else ROOT).free
        if need > free:
            print(f"x{scale}: skipped: needs about {_mib(need)} of disk, {_mib(free)} free")
            continue
        info, reused = prepare(scale, root, seed_1x if scale == 1 else seed_scaled)
        landing = root / "landing"
        _place_night(root, on=False)
        print(f"x{scale:<3} trial: {info['participants']:,} participants, {info['files']:,} files, "
              f"{info['cgm_rows']:,} CGM rows (readings, scans, events), landing "
              f"{_mib(_du(landing))}; "
              + (f"generated earlier ({info['generated_s']:.0f} s, {info['generated_on']})"
                 if reused else f"generated in {info['generated_s']:.0f} s")
              + (f", peak {info['generate_peak_mib']} MiB" if "generate_peak_mib" in info
                 else ""), flush=True)
        shutil.rmtree(run_dir, ignore_errors=True)  # a fresh warehouse and stage folder
        nice = NICE if scale > 1 else 0
        wh = run_dir / "warehouse.duckdb"
        cold = isletflow_run("cold", landing, wh, trial, run_dir / "cold.log", nice)
        print(f"x{scale:<3} " + _line(cold))
        print("     " + _phases(cold), flush=True)
        if scale == 1:
            print(f"     {'':14} targets: peak RSS <= {TARGETS['rss_1x_mib']} MiB at 1x: "
                  f"{_ok(cold.max_mib, TARGETS['rss_1x_mib'])} (max), "
                  f"{_ok(cold.tree_mib, TARGETS['rss_1x_mib'])} (tree)")
        else:
            print(f"     {'':14} targets: cold <= {TARGETS['cold_s'] / 60:.0f} min: "
                  f"{_ok(cold.wall_s if not cold.stopped else None, TARGETS['cold_s'])} "
                  f"(wall), {_ok(cold.flow_s, TARGETS['cold_s'])} (flow); within "
                  f"{TARGETS['cold_mib'] / 1024:.0f} GiB: {_ok(cold.max_mib, TARGETS['cold_mib'])}"
                  f" (max), {_ok(cold.tree_mib, TARGETS['cold_mib'])} (tree)")
        if cold.rc != 0:
            print(f"     {'':14} the cold run did not publish: no further night at x{scale}")
            continue
        cold_size = wh.stat().st_size
        if scale == 1:
            again = isletflow_run("no-change", landing, wh, trial, run_dir / "no-change.log")
            print(f"x{scale:<3} " + _line(again))
            print("     " + _phases(again))
            print(f"     {'':14} targets: flow <= {TARGETS['no_change_flow_s']} s: "
                  f"{_ok(again.flow_s, TARGETS['no_change_flow_s'])}; peak RSS <= "
                  f"{TARGETS['rss_1x_mib']} MiB: {_ok(again.max_mib, TARGETS['rss_1x_mib'])} "
                  f"(max), {_ok(again.tree_mib, TARGETS['rss_1x_mib'])} (tree)", flush=True)
            last = again
        else:
            _place_night(root, on=True)
            n = info["night_files"]
            kinds = {k: sum(f"/{k}/" in f for f in n) for k in ("cgm", "edc", "lab")}
            print(f"     {'':14} the night: {len(n)} new files ({kinds['cgm']} CGM exports of "
                  f"the last {TAIL_DAYS} days, {kinds['edc']} REDCap exports, "
                  f"{kinds['lab']} lab transfers), {_mib(sum(_du(root / 'night' / f) for f in n))}",
                  flush=True)
            last = isletflow_run("night", landing, wh, trial, run_dir / "night.log", nice)
            print(f"x{scale:<3} " + _line(last))
            print("     " + _phases(last))
            print(f"     {'':14} targets: increment <= {TARGETS['night_s']} s: "
                  f"{_ok(last.wall_s if not last.stopped else None, TARGETS['night_s'])} (wall), "
                  f"{_ok(last.flow_s, TARGETS['night_s'])} (flow)", flush=True)
        if last.rc == 0 or wh.exists():
            layers, size = layer_bytes(wh)
            print(f"x{scale:<3} disk: warehouse {_mib(size)} (after the cold run {_mib(cold_size)})"
                  f": " + ", ".join(f"{k} {_mib(v)}" for k, v in layers.items())
                  + f" (storage segments; {_mib(size - sum(layers.values()))} free blocks and "
                  f"metadata) | landing {_mib(_du(landing))} | stage {_mib(_du(run_dir / 'stage'))}"
                  f" | whole run folder {_mib(_du(run_dir))}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 100])
    ap.add_argument("--workdir", type=Path, default=Path("data/bench"))
    ap.add_argument("--generate", type=int, help=argparse.SUPPRESS)  # the generation process
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=2000, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        generate_scaled(args.generate, args.root, args.seed)
        return
    nightly_bench(args.workdir, args.scales)


if __name__ == "__main__":
    main()
