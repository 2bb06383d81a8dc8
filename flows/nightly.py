"""The nightly flow: landing exports -> raw -> core -> quality -> endpoints -> publish."""

from __future__ import annotations

import datetime as dt
import uuid

from prefect import flow, get_run_logger, unmapped
from prefect.runtime import flow_run

from isletflow.build import RunInfo, build_path_for
from isletflow.config import PipelineConfig
from tasks.landing import discover_files, stage_file
from tasks.warehouse import build_core, compute_endpoints, publish, validate_core


@flow(name="nightly", log_prints=False)
def nightly(
    landing_dir: str = "data/landing",
    warehouse: str = "data/warehouse.duckdb",
    as_of: dt.date | None = None,
    sites: list[str] | None = None,
    full_refresh: bool = False,
) -> dict:
    """Load every site export under ``landing_dir`` into a new warehouse and publish it.

    Parameters: ``landing_dir`` (``<site>/<cgm|edc|lab>/*.csv``), ``warehouse`` (DuckDB file
    to publish), ``as_of`` (only files received by that date), ``sites`` (only these sites),
    ``full_refresh`` (re-parse every file even when its sha256 is already staged).
    """
    cfg = PipelineConfig.from_params(landing_dir, warehouse, as_of, sites, full_refresh)
    run = RunInfo(run_id=str(flow_run.id or uuid.uuid4()), flow_run_id=flow_run.id,
                  started_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    files, problems = discover_files(cfg)
    staged = [s.result() for s in stage_file.map(files, cfg=unmapped(cfg))]
    build = build_path_for(cfg.warehouse, run.run_id)
    try:
        build_core(cfg, build, files, staged, problems, run)
        quarantined = validate_core(build, cfg.reference_time or run.started_at)
        endpoint_rows = compute_endpoints(build, cfg)
        counts = publish(build, cfg, run, len(files))
    finally:
        build.unlink(missing_ok=True)  # a failed night leaves the published warehouse as it was
    summary = {
        "run_id": run.run_id, "warehouse": str(cfg.warehouse), "files": len(files),
        "files_cached": sum(s.cached for s in staged),
        "files_unreadable": sum(1 for s in staged if s.error),
        "files_not_loaded": len(problems) + sum(1 for s in staged if s.error),
        "rows_quarantined": quarantined, "endpoint_rows": endpoint_rows, "table_rows": counts,
    }
    get_run_logger().info("nightly run %s published: %d files, %d rows quarantined",
                          run.run_id, len(files), sum(quarantined.values()))
    return summary


if __name__ == "__main__":
    nightly()
