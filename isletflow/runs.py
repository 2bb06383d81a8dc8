"""One run at a time per warehouse, leftovers of killed runs, and the journal of every attempt.

* :func:`run_lock` — an exclusive ``flock`` on ``.<warehouse>.lock``: a second run (from the
  CLI, the UI or the schedule) waits for the first instead of racing it. The kernel drops the
  lock when its process dies, even by SIGKILL, so a killed run never blocks the next one.
* :func:`remove_stale_builds` — under the lock no other run can be building, so any
  ``.<warehouse>.building-<run>`` file is the leftover of a run that was killed or crashed.
* The journal ``.<warehouse>.journal.jsonl`` records each attempt when it starts and when it
  fails. The published warehouse only learns about a run that published; the journal is how
  ``audit.runs`` also lists the runs that failed or were killed (:func:`unpublished_runs`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path


def _sidecar(warehouse: Path, suffix: str) -> Path:
    return warehouse.with_name(f".{warehouse.name}.{suffix}")


def lock_path(warehouse: Path) -> Path:
    return _sidecar(warehouse, "lock")


def journal_path(warehouse: Path) -> Path:
    return _sidecar(warehouse, "journal.jsonl")


@contextlib.contextmanager
def run_lock(warehouse: Path, log: logging.Logger | logging.LoggerAdapter) -> Iterator[None]:
    """Hold the warehouse's run lock; wait (logging who holds it) while another run has it."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            log.info("another run (%s) is using %s; waiting for it to finish",
                     fh.read().strip() or "unknown", warehouse.name)
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def lock_holder(warehouse: Path) -> str | None:
    """Who holds the warehouse's run lock right now (the lock file's text, ``pid N``), or None
    when no run holds it. Never waits and never writes: it tries a shared ``flock`` without
    blocking and lets go at once (a run starting in that instant waits those microseconds). A
    run that was killed holds nothing (the kernel dropped its lock), although its ``pid N``
    stays in the file until the next run."""
    try:
        fh = lock_path(warehouse).open("r")
    except FileNotFoundError:  # no run ever took it
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return fh.read().strip() or "unknown"
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None


def remove_stale_builds(warehouse: Path) -> list[str]:
    """Delete build files left by runs that died; return their run ids. Call under the lock."""
    prefix = f".{warehouse.name}.building-"
    stale = sorted(p for p in warehouse.parent.glob(f"{prefix}*") if p.is_file())
    for p in stale:
        p.unlink()
    return [p.name.removeprefix(prefix).removesuffix(".wal") for p in stale
            if not p.name.endswith(".wal")]


def journal(warehouse: Path, run_id: str, status: str, **fields: object) -> None:
    """Append one event of a run (``started``, ``published``, ``failed``, ``interrupted``) to
    the journal.

    Only ids, times, versions and the error's class go in: never a message, which could quote
    a file's content.
    """
    path = journal_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    event = {"run_id": run_id, "status": status,
             "at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(), **fields}
    line = (json.dumps(event, default=str, sort_keys=True) + "\n").encode()
    with path.open("a+b") as fh:  # appends go to the end whatever the read position
        if fh.seek(0, os.SEEK_END) and (fh.seek(-1, os.SEEK_END), fh.read(1))[1] != b"\n":
            line = b"\n" + line  # a line cut short by a kill: start on a line of our own
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def unpublished_runs(warehouse: Path, current_run_id: str) -> list[dict]:
    """Runs in the journal other than ``current_run_id`` that never published, as
    ``audit.runs`` rows: the last event of each decides its status (a run that started and
    never ended was killed: ``interrupted``). A run with a ``published`` event is left out,
    whatever came after it (a step after the publish that failed): it is in the audit.runs of
    the warehouse it published, and a warehouse restored from a backup or deleted for a
    rebuild must not turn the nights published since into killed ones."""
    path = journal_path(warehouse)
    if not path.exists():
        return []
    runs: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # a line cut short when a run was killed mid-write
            continue
        if event.get("run_id") == current_run_id:
            continue
        run = runs.setdefault(event["run_id"], {"run_id": event["run_id"]})
        if event["status"] == "started":
            run.update(started_at=event["at"], status="interrupted",
                       **{k: event.get(k) for k in ("flow_run_id", "as_of", "sites",
                                                    "full_refresh", "package_versions",
                                                    "git_commit")})
        elif event["status"] == "interrupted":  # found dead later: when it died is unknown
            run["status"] = "interrupted"
        elif event["status"] == "published":
            run["published"] = True
        else:
            run.update(status=event["status"], finished_at=event["at"],
                       error=event.get("error"))
    out = []
    for r in runs.values():
        if "started_at" not in r or r.pop("published", False):
            continue
        r["started_at"] = dt.datetime.fromisoformat(r["started_at"])
        if r.get("finished_at"):
            r["finished_at"] = dt.datetime.fromisoformat(r["finished_at"])
        if r.get("as_of"):
            r["as_of"] = dt.date.fromisoformat(r["as_of"])
        out.append(r)
    return out
