"""The nightly flow's build steps without Prefect, for tests that need a validated build of a
hand-made landing folder quickly (flows/nightly.py wires the same functions as tasks)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from isletflow.build import RunInfo, compute_endpoints, create_build, validate_build
from isletflow.config import PipelineConfig
from isletflow.landing import scan_landing
from isletflow.staging import dictionary_for, site_dictionaries, stage_export


def build_night(root: Path, tmp_path: Path, now: dt.datetime = dt.datetime(2026, 1, 1),
                trial: str | Path | None = None, endpoints: bool = False
                ) -> tuple[Path, dict[str, int]]:
    """raw -> core -> validated build of the landing folder ``root`` for ``trial`` (a trial
    definition file; default the sample trial), and with ``endpoints`` the endpoint tables;
    returns the build file and the rows quarantined per core table."""
    cfg = PipelineConfig.from_params(root, tmp_path / "warehouse.duckdb", None, None, False,
                                     str(tmp_path / "stage"), trial)
    files, problems = scan_landing(cfg.landing_dir, set(cfg.trial.site_ids))
    dictionaries = site_dictionaries(files)
    staged = [stage_export(f, cfg.stage_dir, dictionary=dictionary_for(f, dictionaries),
                           redcap_fields=cfg.trial.redcap_fields) for f in files]
    run = RunInfo(str(uuid.uuid4()), None, now)
    build = tmp_path / "build.duckdb"
    create_build(cfg, build, files, staged, problems, run)
    moved = validate_build(build, now, cfg.trial)
    if endpoints:
        compute_endpoints(build, cfg)
    return build, moved


def load_sample_trial(con, trial: str | Path | None = None) -> None:
    """The trial definition's rows (raw.trial_*), core.sites and the REDCap value view in a
    connection whose schemas and raw tables exist, as the build has them before core SQL."""
    from isletflow.trial import load_trial
    from isletflow.warehouse import load_trial_rows, run_sql

    load_trial_rows(con, load_trial(trial), "trial0000000000f")
    run_sql(con, "core/00_sites.sql")
    run_sql(con, "core/00b_redcap_values.sql")
