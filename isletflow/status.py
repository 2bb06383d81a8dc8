"""``isletflow status``: did last night publish? One line and an exit code, for cron or any
monitor, with no Prefect server needed (and no Prefect import: it answers in well under a
second).

Sources, read-only, in this order (so a run starting meanwhile is seen as running, not killed):

1. the run journal beside the warehouse (:func:`isletflow.runs.unpublished_runs`): a run that
   failed or was killed after the last publish is only there until the next run publishes;
2. the run lock (:func:`isletflow.runs.lock_holder`): held means a run is in progress;
3. the published warehouse's ``audit.runs`` (a read-only DuckDB connection: a run replaces the
   file by rename, so this reads either the old file or the new one, never a half-written one).

The last run decides, not counting a run in progress (it holds the lock; it is named on the
line, and a run stuck for ever shows up as a stale night once --max-age has passed): a failed
or interrupted last run is reported even when the published night is still recent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

from isletflow.runs import lock_holder, unpublished_runs

SQL = Path(__file__).resolve().parents[1] / "sql" / "audit" / "status_runs.sql"

OK = 0
UNREADABLE = 1      # the file is there but audit.runs cannot be read (not a warehouse, damaged)
NO_WAREHOUSE = 3    # no published warehouse (or one with no published run)
STALE = 4           # the last published night is older than --max-age
FAILED = 5          # the last run failed (its error class is on the line)
INTERRUPTED = 6     # the last run was killed or crashed before it finished

EXIT_CODES_HELP = ("Exit codes: 0 ok; 1 warehouse unreadable; 2 bad option; 3 no warehouse; "
                   "4 last published night older than --max-age; 5 last run failed; "
                   "6 last run interrupted (killed or crashed).")

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> dt.timedelta:
    """``26h``, ``90m``, ``2d``, ``1d12h``, ``45s``: whole numbers, each with its unit (d, h, m,
    s), largest unit first. Anything else (``26``, ``1.5h``, ``h``, ``0h``) is a ValueError
    saying what is accepted."""
    m = _DURATION.fullmatch(text.strip())
    if not text.strip() or m is None:
        raise ValueError(f"{text!r} is not a duration: give whole numbers with units d, h, m "
                         "or s, largest first, e.g. 26h, 90m, 2d or 1d12h")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    out = dt.timedelta(days=d, hours=h, minutes=mi, seconds=s)
    if out <= dt.timedelta(0):
        raise ValueError(f"{text!r} is not a duration longer than zero")
    return out


def format_age(delta: dt.timedelta) -> str:
    """A duration in its two largest units, rounded down: ``2d 3h``, ``5h 7m``, ``1m 40s``
    (a negative duration, from a clock set back, shows as ``0m 0s``)."""
    seconds = max(int(delta.total_seconds()), 0)
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    mi, s = divmod(rest, 60)
    if d:
        return f"{d}d {h}h"
    return f"{h}h {mi}m" if h else f"{mi}m {s}s"


@dataclasses.dataclass(frozen=True)
class Run:
    run_id: str
    status: str                      # published | failed | interrupted (as in audit.runs)
    started_at: dt.datetime          # UTC, naive (as audit.runs stores it)
    finished_at: dt.datetime | None
    error: str | None                # the error's class of a failed run
    journal_only: bool = False       # not (yet) in the published audit.runs


def _when(t: dt.datetime, now: dt.datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M} UTC ({format_age(now - t)} ago)"


def _describe(run: Run, now: dt.datetime) -> str:
    """Why a failed or interrupted run is the problem, in a few words."""
    if run.status == "failed":
        return (f"last run {run.run_id[:8]} failed ({run.error or 'error unknown'}) at "
                f"{_when(run.finished_at or run.started_at, now)}")
    return (f"last run {run.run_id[:8]} was interrupted (killed or crashed): started "
            f"{_when(run.started_at, now)}, never finished")


def _journal_runs(warehouse: Path) -> list[Run]:
    return [Run(r["run_id"], r["status"], r["started_at"], r.get("finished_at"), r.get("error"),
                journal_only=True)
            for r in unpublished_runs(warehouse, current_run_id="")]


def _warehouse_runs(warehouse: Path) -> list[Run]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql(SQL.read_text(encoding="utf-8")).fetchall()
    return [Run(*row) for row in rows]


def check(warehouse: Path, max_age: dt.timedelta,
          now: dt.datetime | None = None) -> tuple[int, str]:
    """The exit code and the one line of ``isletflow status`` (see the module docstring).

    ``now`` is UTC, naive or aware; default the current time."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    journal = _journal_runs(warehouse)
    holder = lock_holder(warehouse)
    published: list[Run] = []
    if warehouse.exists():
        import duckdb

        try:
            published = _warehouse_runs(warehouse)
        except duckdb.Error as err:  # its class only: a message could quote the file
            return UNREADABLE, (f"unreadable: cannot read audit.runs of {warehouse} "
                                f"({type(err).__name__})")
    known = {r.run_id for r in published}
    runs = sorted(published + [r for r in journal if r.run_id not in known],
                  key=lambda r: r.started_at)
    running = None
    if holder and runs and runs[-1].journal_only and runs[-1].finished_at is None:
        running = runs.pop()  # started, holds the lock, not finished: in progress, not killed
    suffix = (f"; run {running.run_id[:8]} in progress since "
              f"{running.started_at:%Y-%m-%d %H:%M} UTC" if running else "")
    last = runs[-1] if runs else None
    last_published = max((r for r in published if r.status == "published"),
                         key=lambda r: r.finished_at, default=None)
    if last_published is None:
        why = "has no published night" if warehouse.exists() else "does not exist"
        problem = f"; {_describe(last, now)}" if last and last.status != "published" else ""
        return NO_WAREHOUSE, f"no warehouse: {warehouse} {why}{problem}{suffix}"
    age = now - last_published.finished_at
    night = (f"last night published {last_published.finished_at:%Y-%m-%d %H:%M} UTC "
             f"({format_age(age)} ago), run {last_published.run_id[:8]}")
    if last.status == "failed":
        return FAILED, f"failed: {_describe(last, now)}; {night}{suffix}"
    if last.status == "interrupted":
        return INTERRUPTED, f"interrupted: {_describe(last, now)}; {night}{suffix}"
    if age > max_age:
        return STALE, (f"stale: last night published {last_published.finished_at:%Y-%m-%d %H:%M}"
                       f" UTC ({format_age(age)} ago, more than --max-age {format_age(max_age)}),"
                       f" run {last_published.run_id[:8]}{suffix}")
    return OK, f"ok: {night}{suffix}"
