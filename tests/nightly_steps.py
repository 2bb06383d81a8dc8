"""The nightly flow's build steps without Prefect, for tests that need a validated build of a
hand-made landing folder quickly (flows/nightly.py wires the same functions as tasks)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from isletflow.build import RunInfo, create_build, validate_build
from isletflow.config import SITES_BY_ID, PipelineConfig
from isletflow.landing import scan_landing
from isletflow.staging import dictionary_for, site_dictionaries, stage_export


def build_night(root: Path, tmp_path: Path, now: dt.datetime = dt.datetime(2026, 1, 1)
                ) -> tuple[Path, dict[str, int]]:
    """raw -> core -> validated build of the landing folder ``root``; returns the build file
    and the rows quarantined per core table."""
    cfg = PipelineConfig.from_params(root, tmp_path / "warehouse.duckdb", None, None, False,
                                     str(tmp_path / "stage"))
    files, problems = scan_landing(cfg.landing_dir, set(SITES_BY_ID))
    dictionaries = site_dictionaries(files)
    staged = [stage_export(f, cfg.stage_dir, dictionary=dictionary_for(f, dictionaries))
              for f in files]
    run = RunInfo(str(uuid.uuid4()), None, now)
    build = tmp_path / "build.duckdb"
    create_build(cfg, build, files, staged, problems, run)
    return build, validate_build(build, now)
