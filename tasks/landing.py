"""Tasks that read the landing folder."""

from __future__ import annotations

import hashlib

from prefect import get_run_logger, task
from prefect.context import TaskRunContext

from isletflow.config import PipelineConfig
from isletflow.landing import LandingFile, LandingProblem, scan_landing
from isletflow.staging import StagedFile, is_staged, reader_code, stage_export, trial_fields


@task(name="discover-files", retries=2, retry_delay_seconds=5, timeout_seconds=600)
def discover_files(cfg: PipelineConfig) -> tuple[list[LandingFile], list[LandingProblem]]:
    """New and known exports under the landing folder, hashed; problems reported, not raised."""
    files, problems = scan_landing(cfg.landing_dir, set(cfg.trial.site_ids), cfg.sites,
                                   cfg.as_of)
    log = get_run_logger()
    log.info("discovered %d export files (%d not loadable) under %s", len(files), len(problems),
             cfg.landing_dir)
    for p in problems:  # hidden and temporary files (severity warning) are logged as info
        (log.info if p.severity == "warning" else log.warning)(
            "not loaded: %s (%s: %s)", p.rel_path, p.rule, p.message)
    return files, problems


def staged_cache_key(_: TaskRunContext, params: dict) -> str | None:
    """Prefect's cache key of a staged file: its sha256, the sha256 of the REDCap dictionary
    it is read with (if any), the stage folder and the reader code (for a REDCap export with
    the trial's fields).
    None (no caching) until the file has a staged partition: unreadable files are retried."""
    f, cfg, dictionary = params["f"], params["cfg"], params.get("dictionary")
    trial = getattr(cfg, "trial", None)
    fields = trial_fields(trial.redcap_fields if trial is not None else None)
    if not is_staged(cfg.stage_dir, f.sha256, dictionary, fields):
        return None
    where = hashlib.sha256(str(cfg.stage_dir).encode()).hexdigest()[:12]
    dic = dictionary.sha256 if dictionary else "none"
    code = reader_code("redcap" if f.kind == "edc" else None, fields)
    return f"stage-{f.sha256}-{dic}-{code}-{where}"


@task(name="stage-file", retries=2, retry_delay_seconds=2,
      task_run_name="stage {f.site_id} {f.kind} {f.file_id}",
      cache_key_fn=staged_cache_key, persist_result=True)
def stage_file(f: LandingFile, cfg: PipelineConfig,
               dictionary: LandingFile | None = None) -> StagedFile:
    """Parse one export into its Parquet partition (skipped when its sha256 is already staged);
    a REDCap export with its site's data ``dictionary`` (staging.dictionary_for)."""
    staged = stage_export(f, cfg.stage_dir, refresh=cfg.full_refresh, dictionary=dictionary,
                          redcap_fields=cfg.trial.redcap_fields)
    if staged.error:
        get_run_logger().warning("unreadable: %s: %s", f.rel_path, staged.error)
    return staged
