"""The nightly flow: landing exports -> raw -> core -> quality -> endpoints -> publish."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.runtime import flow_run

from isletflow.build import RunInfo, build_path_for, run_environment
from isletflow.config import PROJECT_ROOT, PipelineConfig
from isletflow.gx_docs import run_name_for
from isletflow.run_summary import night_plan
from isletflow.runs import journal, remove_stale_builds, run_lock
from isletflow.staging import site_dictionaries
from tasks.landing import discover_files
from tasks.runners import stage_files, staging_runner  # per-file staging: threads or Dask
from tasks.artifacts import previous_summary, run_artifacts
from tasks.canary import check_contracts  # every check proves it can fail, every night
from tasks.warehouse import (build_core, compute_endpoints, files_not_loaded, publish,
                             validate_core)


# Files staged at once (threads of the flow's process): Prefect's thread pool has no limit by
# default, and a night of thousands of exports parsed at once held 8 GB (measured on the 100x
# bench trial); with one thread per core it stayed near 600 MB in about the same time.
# PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS overrides it.
STAGING_THREADS = int(os.environ.get("PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS") or 0) \
    or os.cpu_count() or 2


@flow(name="nightly", log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=STAGING_THREADS))
def nightly(
    landing_dir: str = "data/landing",
    warehouse: str = "data/warehouse.duckdb",
    as_of: dt.date | None = None,
    sites: list[str] | None = None,
    full_refresh: bool = False,
    stage_dir: str | None = None,
    trial: str = "trials/islet-101.toml",
    dask_address: str | None = None,
    dask_workers: int = 0,
) -> dict:
    """Load every site export under ``landing_dir`` into a new warehouse and publish it.

    Args:
        landing_dir: Landing folder: one folder per site, each with cgm/, edc/ and lab/ exports.
        warehouse: DuckDB warehouse file to publish (built aside, renamed into place).
        as_of: Data cut date: only files received by this day (UTC) are used.
        sites: Only these sites (e.g. US01, DE01); empty means all.
        full_refresh: Rebuild the warehouse from every file (a night otherwise starts from
            the published warehouse and applies only new, changed and removed files) and parse
            every file again, even when its sha256 is already staged.
        stage_dir: Cache of parsed files; empty means stage/ next to the warehouse.
        trial: Trial definition file (trials/<name>.toml): sites, visits, REDCap and lab
            mappings, endpoint parameters. Checked first: a mistake fails the run before
            anything is built, with every mistake listed.
        dask_address: Dask scheduler (e.g. tcp://10.0.0.5:8786) to stage the files on:
            each export is parsed to Parquet on the cluster's workers, which must see the
            landing and stage folders at the same paths; the warehouse is built here.
            Empty: staged in threads of this run's process.
        dask_workers: Stage the files on a local Dask cluster of this many worker
            processes, started for the run; 0: no local cluster. Not with dask_address.
    """
    run = RunInfo(run_id=str(flow_run.id or uuid.uuid4()), flow_run_id=flow_run.id,
                  started_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    log = get_run_logger()
    try:
        cfg = PipelineConfig.from_params(landing_dir, warehouse, as_of, sites, full_refresh,
                                         stage_dir, _trial_path(trial))
        runner = staging_runner(dask_address, dask_workers)  # None: the flow's own threads
    except Exception as err:  # a broken trial file or parameter: in the journal too, so
        # `isletflow status` and the next night's audit.runs see the failed night
        if warehouse:
            wh = Path(warehouse).resolve()
            _journal_start(wh, run, as_of, sites, full_refresh, trial_file_id=None)
            journal(wh, run.run_id, "failed", error=type(err).__name__)
        raise
    with run_lock(cfg.warehouse, log):  # one run per warehouse at a time; others wait here
        for stale in remove_stale_builds(cfg.warehouse):
            journal(cfg.warehouse, stale, "interrupted")
            log.warning("removed the unfinished build of run %s (it was killed)", stale)
        _journal_start(cfg.warehouse, run, as_of, cfg.sites, full_refresh,
                       trial_file_id=(cfg.trial.sha256 or "")[:16] or None)
        try:
            summary = _night(cfg, run, runner)
        except BaseException as err:
            journal(cfg.warehouse, run.run_id, "failed", error=type(err).__name__)
            raise
    log.info("nightly run %s published: %d files, %d rows quarantined, %d endpoint values "
             "changed", run.run_id, summary["files"], sum(summary["rows_quarantined"].values()),
             summary["endpoint_values_changed"])
    return summary


def _journal_start(warehouse: Path, run: RunInfo, as_of, sites, full_refresh: bool,
                   trial_file_id: str | None) -> None:
    """The run's ``started`` event (isletflow/runs.py), with what audit.runs records of it."""
    journal(warehouse, run.run_id, "started", flow_run_id=run.flow_run_id, as_of=as_of,
            sites=",".join(sites) if sites else None, full_refresh=full_refresh,
            trial_file_id=trial_file_id, **run_environment())


def _trial_path(trial: str) -> Path:
    """A relative trial path is read from the working directory, else from the project (a
    deployment's worker may run elsewhere)."""
    p = Path(trial)
    return p if p.is_absolute() or p.exists() else PROJECT_ROOT / p


def _night(cfg: PipelineConfig, run: RunInfo, runner=None) -> dict:
    check_contracts(cfg.trial)  # canaries first, on unchanged nights too (isletflow/canary.py)
    files, problems = discover_files(cfg)
    dictionaries = site_dictionaries(files)  # each site's REDCap data dictionary, if sent
    staged = stage_files(files, cfg, dictionaries, runner)  # cache hits marked cached
    previous = previous_summary(cfg.warehouse)
    build = build_path_for(cfg.warehouse, run.run_id)
    try:
        build_core(cfg, build, files, staged, problems, run)
        quarantined = validate_core(build, cfg.reference_time or run.started_at, cfg.trial,
                                    cfg.docs_dir,
                                    run_name_for(run.started_at, run.run_id, cfg.as_of))
        endpoint_rows = compute_endpoints(build, cfg)
        counts = publish(build, cfg, run, len(files))
    finally:
        build.unlink(missing_ok=True)  # a failed night leaves the published warehouse as it was
    summary = {
        "run_id": run.run_id, "warehouse": str(cfg.warehouse), "files": len(files),
        "files_cached": sum(s.cached for s in staged),
        "files_unreadable": sum(1 for s in staged if s.error),
        "files_not_loaded": files_not_loaded(cfg.warehouse),
        "rows_quarantined": quarantined, "endpoint_rows": endpoint_rows, "table_rows": counts,
        "night": night_plan(cfg.warehouse),  # full / incremental / unchanged, and why
    }
    summary["endpoint_values_changed"] = run_artifacts(summary, cfg.warehouse, previous,
                                                    cfg.docs_dir / "index.html")
    return summary


if __name__ == "__main__":
    nightly()
