"""Tasks that build, validate, derive and publish the night's warehouse file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import get_run_logger, task

from isletflow import build as b
from isletflow.config import PipelineConfig
from isletflow.landing import LandingFile, LandingProblem
from isletflow.staging import StagedFile
from isletflow.trial import Trial


@task(name="build-core", timeout_seconds=1800)
def build_core(cfg: PipelineConfig, build: Path, files: list[LandingFile],
               staged: list[StagedFile], problems: list[LandingProblem],
               run: b.RunInfo) -> dict[str, int]:
    """raw + core layers in the new build file."""
    counts = b.create_build(cfg, build, files, staged, problems, run)
    log = get_run_logger()
    with b.connect(build, read_only=True) as con:
        plan = con.sql("SELECT night, reason, cgm_files_built, cgm_files_kept "
                       "FROM work.build_state").pl().row(0, named=True)
    log.info("night: %s (%s); CGM files built %d, kept as published %d", plan["night"],
             plan["reason"], plan["cgm_files_built"], plan["cgm_files_kept"])
    log.info("raw/core built: %s", {k: v for k, v in counts.items()
                                     if k.startswith(("raw.", "core."))})
    return counts


@task(name="validate-core", timeout_seconds=1800)
def validate_core(build: Path, now: dt.datetime, trial: Trial, docs_dir: Path | None = None,
                  run_name: str | None = None) -> dict[str, int]:
    """Row rules, pandera + GX contracts; failing rows moved to quality; overlaps resolved;
    GX Data Docs rendered into ``docs_dir``."""
    moved = b.validate_build(build, now, trial, docs_dir, run_name)
    get_run_logger().info("rows quarantined per core table: %s", moved)
    return moved


@task(name="compute-endpoints", timeout_seconds=1800)
def compute_endpoints(build: Path, cfg: PipelineConfig) -> dict[str, int]:
    """Endpoint tables from the validated core tables."""
    return b.compute_endpoints(build, cfg)


@task(name="publish", retries=2, retry_delay_seconds=5, timeout_seconds=600)
def publish(build: Path, cfg: PipelineConfig, run: b.RunInfo, n_files: int) -> dict[str, int]:
    """Atomic swap of the build file into place, then the sites' query listings."""
    counts = b.publish(build, cfg, run, n_files)
    queries = b.write_site_queries(cfg.warehouse, cfg.quality_dir)
    get_run_logger().info("published %s; query listings written: %s", cfg.warehouse, queries)
    return counts


@task(name="files-not-loaded", retries=2, retry_delay_seconds=2)
def files_not_loaded(warehouse: Path) -> int:
    """Files of the published warehouse that did not load (as its table by site counts them)."""
    from isletflow.run_summary import files_not_loaded as count

    return count(warehouse)
