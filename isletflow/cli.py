"""The ``isletflow`` command line."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

# the standard library and isletflow.runs only (DuckDB once it reads): no Prefect, no polars
from isletflow.status import EXIT_CODES_HELP as STATUS_EXIT_CODES
from isletflow.status import check as check_status, parse_duration

app = typer.Typer(help="isletflow: nightly data pipeline of the islet-therapy trial.",
                  no_args_is_help=True, add_completion=False)
# Wide enough for the summary when piped (rich would fall back to 80 columns).
console = Console(width=None if sys.stdout.isatty() else 160)

DEFAULT_LANDING = Path("data/landing")
DEFAULT_WAREHOUSE = Path("data/warehouse.duckdb")
DEFAULT_TRIAL = Path(__file__).resolve().parent.parent / "trials" / "islet-101.toml"


def _check_trial_or_exit(path: Path) -> None:
    """Exit 1 with every mistake of the trial definition file (one line each)."""
    from isletflow.trial import check_trial

    errors = check_trial(path)
    if errors:
        console.print(f"[red]{path}: {len(errors)} mistake(s) in the trial definition[/]")
        for e in errors:
            console.print(f"  {e}", markup=False, highlight=False)
        raise typer.Exit(1)


@app.command("check-trial")
def check_trial_cmd(
    file: Annotated[Path, typer.Argument(help="Trial definition file (trials/<name>.toml).")],
) -> None:
    """Check a trial definition file: print every mistake, each with its path and the bad
    value, and exit 1; exit 0 when it is valid."""
    _check_trial_or_exit(file)
    from isletflow.trial import load_trial

    t = load_trial(file)
    console.print(f"{file}: valid — {t.study.id}: {len(t.sites)} sites, {len(t.arms)} arms, "
                  f"{len(t.visits)} visits (study days {min(v.day for v in t.visits)} to "
                  f"{max(v.day for v in t.visits)}), {len(t.cgm_windows)} CGM windows, "
                  f"{len(t.redcap.forms)} REDCap forms, {len(t.lab_tests)} lab tests",
                  markup=False, highlight=False)


@app.command()
def canary(
    write: Annotated[bool, typer.Option("--write", help="Write schemas/canaries/*.json from the rules as declared now (then review the diff and commit it).")] = False,
    trial: Annotated[Path, typer.Option(help="Trial definition file (its own checks and REDCap dictionary are built every night, never committed).")] = DEFAULT_TRIAL,
) -> None:
    """Run every contract on its committed canary rows, as the night does first (exit 1 with
    a line per check that no longer fires or has no committed row); with --write, write the
    committed canary files instead (isletflow/canary.py)."""
    from isletflow.canary import CanaryError, check_canaries, write_canaries
    from isletflow.trial import load_trial

    t = load_trial(trial)
    if write:
        for name, what in write_canaries(t):
            print(f"schemas/canaries/{name}: {what}")
        print("review the diff (git diff schemas/canaries) before committing it")
        return
    t0 = time.perf_counter()
    try:
        results = check_canaries(t)
    except CanaryError as err:
        print(err)
        raise typer.Exit(1) from None
    print(f"canaries: {len(results)} contracts, {sum(r.rows for r in results)} canary rows "
          f"({sum(r.committed for r in results)} committed) and "
          f"{sum(r.whole for r in results)} frame-wide rules, every check fired "
          f"({time.perf_counter() - t0:.2f} s)")


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option(help="Landing folder to write the sample trial to.")] = DEFAULT_LANDING,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes identical files.")] = 20250620,
    participants: Annotated[int | None, typer.Option(help="The first N participants of the trial's sample data (default all: 14 in islet-101, 50 in islet-301).")] = None,
    days: Annotated[int | None, typer.Option(help="Days of follow-up after infusion (default the last visit's nominal day).")] = None,
    trial: Annotated[Path, typer.Option(help="Trial definition file whose sample data to write.")] = DEFAULT_TRIAL,
    planted: Annotated[Path | None, typer.Option(help="JSON file for the planted truth (default planted-<study>.json beside OUT, never inside it).")] = None,
) -> None:
    """Write a trial's raw site exports (CGM, EDC, central lab) under OUT, and what was
    planted (per participant: dose group, endpoints, time in range) beside it."""
    from isletflow.demo import default_truth_path, generate_trial
    from isletflow.trial import load_trial

    _check_trial_or_exit(trial)
    t = load_trial(trial)
    planted = planted or default_truth_path(out, t)
    t0 = time.perf_counter()
    with console.status(f"writing the sample data of {t.study.id} to {out} ..."):
        try:
            m = generate_trial(out, seed=seed, participants=participants, days=days, trial=t,
                               truth_path=planted)
        except ValueError as err:
            console.print(f"[red]{err}[/]")
            raise typer.Exit(2) from None
    console.print(f"wrote {len(m.files)} files for {len(m.participants)} participants of "
                  f"{t.study.id} ({m.n_cgm_rows:,} CGM readings) to {out} in "
                  f"{time.perf_counter() - t0:.1f} s")
    console.print(f"planted truth: {planted}", markup=False, highlight=False)


@app.command()
def run(
    landing: Annotated[Path, typer.Option(help="Landing folder (<site>/<cgm|edc|lab>/*.csv).")] = DEFAULT_LANDING,
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file to publish.")] = DEFAULT_WAREHOUSE,
    as_of: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Only files received by this date.")] = None,
    sites: Annotated[list[str] | None, typer.Option("--sites", help="Only these sites (repeat the option).")] = None,
    full_refresh: Annotated[bool, typer.Option(help="Rebuild the warehouse from every file (not only what is new since the published night) and re-parse every file, ignoring staged partitions.")] = False,
    summary: Annotated[bool, typer.Option(help="Print the endpoint summary afterwards.")] = True,
    trial: Annotated[Path, typer.Option(help="Trial definition file (checked first: a mistake stops the run before it builds anything).")] = DEFAULT_TRIAL,
    dask_address: Annotated[str | None, typer.Option(help="Stage the files on this Dask scheduler (e.g. tcp://10.0.0.5:8786); its workers must see the landing and stage folders at the same paths.")] = None,
    dask_workers: Annotated[int, typer.Option(min=0, help="Stage the files on a local Dask cluster of this many worker processes (0: threads of this process).")] = 0,
) -> None:
    """Run the nightly flow once (under Prefect) and publish the warehouse."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.nightly import nightly

    if not landing.is_dir():
        console.print(f"[red]landing folder {landing} does not exist[/]; "
                      "write the sample trial with 'isletflow demo-data'")
        raise typer.Exit(2)
    if dask_address and dask_workers:
        console.print("[red]give --dask-address (an existing Dask cluster) or --dask-workers "
                      "(a local one), not both[/]")
        raise typer.Exit(2)
    _check_trial_or_exit(trial)
    t0 = time.perf_counter()
    result = nightly(landing_dir=str(landing), warehouse=str(warehouse),
                     as_of=as_of.date() if as_of else None, sites=sites,
                     full_refresh=full_refresh, trial=str(trial), dask_address=dask_address,
                     dask_workers=dask_workers)
    console.print(f"published {result['warehouse']} in {time.perf_counter() - t0:.1f} s: "
                  f"{result['files']} files ({result['files_cached']} unchanged), "
                  f"{result['files_not_loaded']} not loaded, "
                  f"{sum(result['rows_quarantined'].values())} rows quarantined")
    night = result.get("night") or {}
    if night:
        console.print(f"night: {night['night']} ({night['reason']}); CGM files built "
                      f"{night['cgm_files_built']:,}, kept as published {night['cgm_files_kept']:,}")
    if summary:
        print_summary(warehouse)


@app.command()
def cut(
    as_of: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Cut date: only files received by this day (UTC) are used.")],
    landing: Annotated[Path, typer.Option(help="Landing folder.")] = DEFAULT_LANDING,
    cuts_dir: Annotated[Path, typer.Option(help="Folder of the named snapshots.")] = Path("data/cuts"),
    stage_dir: Annotated[Path, typer.Option(help="Cache of parsed files (shared with the nightly runs).")] = Path("data/stage"),
    verify: Annotated[bool, typer.Option(help="Rebuild an existing cut in a scratch file and compare its endpoint tables with the recorded checksums.")] = False,
    trial: Annotated[Path, typer.Option(help="Trial definition file (recorded in the cut's audit.runs and checksums file).")] = DEFAULT_TRIAL,
) -> None:
    """Build a data cut: CUTS_DIR/<date>.duckdb, read-only, from the files received by the cut
    date, with <date>.sha256.json (checksums of its endpoint tables)."""
    import hashlib
    import json
    import tempfile

    from isletflow.warehouse import table_digests

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.nightly import nightly

    _check_trial_or_exit(trial)
    day = as_of.date()
    target, sums = cuts_dir / f"{day}.duckdb", cuts_dir / f"{day}.sha256.json"
    if not landing.is_dir():
        console.print(f"[red]landing folder {landing} does not exist[/]")
        raise typer.Exit(2)
    if verify:
        if not sums.exists():
            console.print(f"[red]no cut {target} to verify[/]; build it first without --verify")
            raise typer.Exit(2)
        recorded = json.loads(sums.read_text())["endpoint_tables"]
        with tempfile.TemporaryDirectory(dir=cuts_dir) as tmp:
            nightly(landing_dir=str(landing), warehouse=str(Path(tmp) / target.name),
                    as_of=day, stage_dir=str(stage_dir), trial=str(trial))
            rebuilt = table_digests(Path(tmp) / target.name)
        differ = sorted(t for t in recorded.keys() | rebuilt.keys()
                        if recorded.get(t) != rebuilt.get(t))
        for t in differ:
            console.print(f"[red]differs: {t}[/]")
        console.print(f"rebuilt cut {day}: {len(recorded) - len(differ)} of {len(recorded)} "
                      "endpoint tables identical")
        raise typer.Exit(1 if differ else 0)
    if target.exists():
        console.print(f"[red]cut {target} exists and is read-only[/]; use --verify to rebuild "
                      "and compare it")
        raise typer.Exit(2)
    result = nightly(landing_dir=str(landing), warehouse=str(target), as_of=day,
                     stage_dir=str(stage_dir), trial=str(trial))
    digests = table_digests(target)
    sums.write_text(json.dumps({"as_of": str(day), "run_id": result["run_id"],
                                "trial": {"path": str(trial),
                                          "sha256": hashlib.sha256(trial.read_bytes())
                                          .hexdigest()},
                                "files": result["files"], "endpoint_tables": digests},
                               indent=1, sort_keys=True))
    for p in (target, sums):
        p.chmod(0o444)
    console.print(f"cut {day}: {target} ({result['files']} files received by {day}), "
                  f"checksums of {len(digests)} endpoint tables in {sums}")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port of the local Prefect server and UI.")] = 4200,
) -> None:
    """Start a local Prefect server and worker and deploy prefect.yaml: the UI shows the
    nightly schedule and runs the flow by hand with a parameter form."""
    from isletflow.serve import serve as serve_all

    raise typer.Exit(serve_all(port, say=console.print))


@app.command()
def alerts() -> None:
    """Create or update the alert automations (a failed or crashed run; no Completed run by
    the deadline) on the Prefect server at PREFECT_API_URL, from ISLETFLOW_ALERT_WEBHOOK_URL
    and/or ISLETFLOW_ALERT_SMTP_* (e-mail), ISLETFLOW_ALERT_DEADLINE (HH:MM, default 07:00) and
    ISLETFLOW_ALERT_TIMEZONE (default the schedule's); with neither webhook nor e-mail set,
    remove them. `isletflow serve` does this itself."""
    from prefect.settings import get_current_settings

    from isletflow.alerts import sync_alerts

    api = os.environ.get("PREFECT_API_URL") or get_current_settings().api.url
    if not api:
        console.print("[red]PREFECT_API_URL is not set[/]: the Prefect server to configure "
                      "(e.g. http://127.0.0.1:4200/api)")
        raise typer.Exit(2)
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    try:
        line = sync_alerts({**os.environ, "PREFECT_API_URL": str(api)})
    except ValueError as err:
        console.print(f"alerts: {err}", style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except (httpx.HTTPError, PrefectHTTPStatusError) as err:  # its class: no URL, no secret
        console.print(f"alerts: cannot reach the Prefect server at {api} "
                      f"({type(err).__name__})", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(line, markup=False, highlight=False)
    console.print("(a Prefect server not started by `isletflow serve` logs the webhook URL in "
                  "full when the webhook fails, unless its logging config adds the filter "
                  "isletflow.alerts.RedactSecrets; restart `isletflow serve` after changing "
                  "the URL or the SMTP password: its filter reads them at start)",
                  markup=False, highlight=False)


@app.command()
def report(
    warehouse: Annotated[Path, typer.Option(help="Published warehouse or data cut.")] = DEFAULT_WAREHOUSE,
    out: Annotated[Path | None, typer.Option(help="HTML file to write; default reports/<warehouse>-<run>.html next to the warehouse.")] = None,
) -> None:
    """Write the self-contained HTML report of a run or cut: summary tables, an ambulatory
    glucose profile and time in ranges per participant, HbA1c and insulin, safety."""
    from isletflow.report import write_report
    from isletflow.warehouse import connect, sql_text

    _require(warehouse)
    if out is None:
        with connect(warehouse, read_only=True) as con:
            last = con.sql(sql_text("audit/last_published_run.sql")).fetchall()
        run = last[0][0][:8] if last else "unknown-run"
        out = warehouse.parent / "reports" / f"{warehouse.stem}-{run}.html"
    t0 = time.perf_counter()
    with console.status(f"writing the report of {warehouse} ..."):
        path = write_report(warehouse, out)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in "
                  f"{time.perf_counter() - t0:.1f} s")


# What `isletflow query` may do: read the warehouse and nothing else (DuckDB, "Securing
# DuckDB"). With external access off no file outside the warehouse is read or written (COPY,
# read_csv, read_text, glob, ATTACH, EXPORT DATABASE) and no extension is installed or loaded;
# autoloading and autoinstalling extensions are off; the locked configuration refuses SET,
# RESET and PRAGMA settings, so none of this can be switched back on by the query itself.
QUERY_ONLY = {"enable_external_access": False, "autoinstall_known_extensions": False,
              "autoload_known_extensions": False, "lock_configuration": True}


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run against the warehouse.")],
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file.")] = DEFAULT_WAREHOUSE,
) -> None:
    """Run SQL on the published warehouse, read-only: no other file is read or written, no
    extension loaded and no setting changed."""
    import duckdb

    _require(warehouse)
    try:
        with duckdb.connect(str(warehouse), read_only=True, config=QUERY_ONLY) as con:
            rel = con.sql(sql)
            df = rel.pl() if rel is not None else None
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        why = (" (isletflow query reads the warehouse only: no files, extensions or settings)"
               if isinstance(err, duckdb.PermissionException) or "locked" in first else "")
        console.print(f"{type(err).__name__}: {first}{why}", style="red", markup=False,
                      highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if df is not None:
        _print_frame(df, title=None)


def _duration(text: str) -> dt.timedelta:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


@app.command(epilog=STATUS_EXIT_CODES)
def status(
    max_age: Annotated[dt.timedelta, typer.Option(parser=_duration, metavar="DURATION", help="Oldest acceptable published night: whole numbers with units d, h, m, s, largest first (26h, 90m, 2d, 1d12h).")] = "26h",
    warehouse: Annotated[Path, typer.Option(help="Published DuckDB warehouse (its run journal and run lock are read beside it).")] = DEFAULT_WAREHOUSE,
) -> None:
    """Did last night publish? Prints one line and exits 0 (ok) or with the code of what is
    wrong; no Prefect server needed (for cron or a monitor). Reads the warehouse's audit.runs
    (read-only), its run journal (runs that failed or were killed since the last publish) and
    its run lock: a run in progress is named on the line, not counted as a failure."""
    code, line = check_status(warehouse, max_age)
    print(line)
    raise typer.Exit(code)


@app.command("summary")
def summary_cmd(
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file.")] = DEFAULT_WAREHOUSE,
) -> None:
    """Print the endpoint summary of the published warehouse."""
    print_summary(warehouse)


@app.command()
def queries(
    site: Annotated[str, typer.Option(help="Site whose open data queries to list (a site id of the trial file).")],
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file.")] = DEFAULT_WAREHOUSE,
    out: Annotated[Path | None, typer.Option(help="Also write the listing to this CSV.")] = None,
) -> None:
    """List a site's data queries (file, line, rule, value, message): file-level queries, and
    of each file's rows failing one rule the first 10 and a line counting the rest."""
    from isletflow.warehouse import connect, sql_text

    _require(warehouse)
    with connect(warehouse, read_only=True) as con:
        df = con.sql(sql_text("quality/site_query_listing.sql"), params={"site": site}).pl()
    _print_frame(df, title=f"Data queries for {site}")
    if out:
        df.write_csv(out)
        console.print(f"wrote {out}")


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="One export file (any supported format).")],
    to: Annotated[Path | None, typer.Option(help="Write the canonical rows to this Parquet file.")] = None,
    site: Annotated[str | None, typer.Option(help="Site of a CGM export (its time zone); else from the path, else local times only.")] = None,
    participant: Annotated[str | None, typer.Option(help="Participant of a CGM export; else from the file name (<participant_id>__*), else unknown.")] = None,
    trial: Annotated[Path | None, typer.Option(help="Trial definition file (trials/<name>.toml): its sites, clocks and mappings; default the sample trial.")] = None,
) -> None:
    """Detect a file's format and show what was read, dropped and set aside (no other flag
    needed: without a site a CGM export's times stay local)."""
    from isletflow.inspect import inspect_export

    from isletflow.trial import load_trial

    r = _read_one_file(file, inspect_export, site=site, participant=participant,
                       trial=load_trial(trial) if trial else None)
    console.print(f"{file.name}: {r.export_format}, {r.rows_read:,} rows read")
    console.print("personal-data columns dropped: " + (", ".join(r.dropped_columns) or "none"),
                  markup=False)
    for line in r.details:
        console.print(f"  {line}", markup=False, highlight=False)
    for kind, n in r.not_canonical.items():
        console.print(f"  {n:,} {kind} rows kept in raw only (not readings)")
    for line, rule, message in r.set_aside:
        console.print(f"  [yellow]line {line}: {rule}: {message}[/]")
    console.print(f"{r.canonical.height:,} canonical rows; {r.unreadable:,} with an unreadable "
                  "value (quarantined in a nightly run)")
    _print_frame(r.canonical.head(5), title="first canonical rows")
    if to:
        r.canonical.write_parquet(to)
        console.print(f"wrote {r.canonical.height:,} rows to {to}")


@app.command("cgm-metrics")
def cgm_metrics_cmd(
    file: Annotated[Path, typer.Argument(help="Clarity or LibreView export, or a long CSV (id,time,gl).")],
    out: Annotated[Path | None, typer.Option(help="Write the metrics to this CSV.")] = None,
    site: Annotated[str | None, typer.Option(help="Site of a device export (its time zone); else from the path, else local times.")] = None,
    participant: Annotated[str | None, typer.Option(help="Participant of a device export; else from the file name (<participant_id>__*), else unknown.")] = None,
    trial: Annotated[Path | None, typer.Option(help="Trial definition file (trials/<name>.toml): its sites, clocks and mappings; default the sample trial.")] = None,
) -> None:
    """Consensus CGM metrics per participant of one file (no warehouse needed)."""
    from isletflow.cgm_tool import metrics_and_note

    df, note = _read_one_file(file, metrics_and_note, site=site, participant=participant,
                              trial=trial)
    if note:
        console.print(note, markup=False)
    _print_frame(df, title=f"CGM metrics of {file.name}")
    if out:
        df.write_csv(out)
        console.print(f"wrote {out}")


def _read_one_file(file: Path, read, **kwargs):
    """``read(file, **kwargs)`` for the single-file tools: a missing file exits 2, a file
    that cannot be read exits 1, each with one plain line instead of a traceback: isletflow's
    own message, or only the type of a library's error (its text may quote the file's
    content: ``readers.read_error_message``). DuckDB's errors are caught only once ``read``
    has imported DuckDB: ``cgm-metrics`` on a long CSV never does (its import is 0.1 s)."""
    import polars as pl

    from isletflow.readers import read_error_message

    if file.is_dir():
        console.print(f"{file} is a directory; give one export file", style="red",
                      markup=False, highlight=False)
        raise typer.Exit(2)
    if not file.is_file():
        console.print(f"[red]no such file: {file}[/]")
        raise typer.Exit(2)
    try:
        return read(file, **kwargs)
    except (ValueError, pl.exceptions.PolarsError,
            *([sys.modules["duckdb"].Error] if "duckdb" in sys.modules else [])) as err:
        console.print(read_error_message(err), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _require(warehouse: Path) -> None:
    if not warehouse.exists():
        console.print(f"[red]no warehouse at {warehouse}[/]; run 'isletflow run' first")
        raise typer.Exit(2)


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def _print_frame(df, title: str | None) -> None:
    t = Table(title=title)
    for c in df.columns:
        t.add_column(c)
    for row in df.iter_rows():
        t.add_row(*(_fmt(v) for v in row))
    console.print(t)
    console.print(f"({df.height} rows)")


def print_summary(warehouse: Path) -> None:
    """One row per participant and the trial totals (efficacy population: full dose)."""
    from isletflow.warehouse import connect, sql_text

    _require(warehouse)
    with connect(warehouse, read_only=True) as con:
        per = con.sql(sql_text("endpoints/summary_view.sql")).pl()
        totals = con.sql(sql_text("endpoints/summary_totals.sql")).pl()
    _print_frame(per, title="Participants")
    _print_frame(totals, title="Trial totals by dose group")
