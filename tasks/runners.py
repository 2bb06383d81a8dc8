"""Where the nightly flow's per-file staging runs (DESIGN.md, "Growth").

Three places, chosen per run by the flow's parameters (:func:`staging_runner`):

- default: Prefect's own task runner of the flow (ThreadPoolTaskRunner: threads of the flow's
  process), as before;
- ``dask_address``: an existing Dask cluster, through prefect-dask's ``DaskTaskRunner``;
- ``dask_workers=N``: a Dask ``LocalCluster`` of N worker processes (one thread each) on the
  flow's machine, started for the run and closed after it.

Prefect fixes a flow's task runner when the flow is decorated; the runner asked for at run
time is started by :func:`stage_files` for the staging map only, inside the nightly flow run
(see there why not in a subflow). The nightly flow itself, and so the DuckDB build,
validation and endpoints, stay on the flow's machine.

What a Dask worker gets is pickled: the task, each :class:`~isletflow.landing.LandingFile`, the
:class:`~isletflow.config.PipelineConfig` (with its pydantic ``Trial``), and what it returns,
a :class:`~isletflow.staging.StagedFile`. A worker reads the export at ``LandingFile.path`` and
writes the Parquet partition under ``cfg.stage_dir``, both absolute paths of the flow's
machine: the landing and stage folders must be on storage the workers see at the same paths.
The Prefect cache (``staged_cache_key``) is computed on the worker, from the partition it finds
in the shared stage folder; the cache record is written to Prefect's result storage as the
worker sees it (the flow's settings travel with each task). A worker that does not see the
record only misses Prefect's cache: ``stage_export`` still finds the partition and skips
parsing.
"""

from __future__ import annotations

import dataclasses

from prefect import get_run_logger, unmapped
from prefect.context import FlowRunContext
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import TaskRunner

from isletflow.config import PipelineConfig
from isletflow.landing import LandingFile
from isletflow.staging import StagedFile, dictionary_for, is_staged, stage_export
from tasks.landing import stage_file


def staging_runner(dask_address: str | None = None, dask_workers: int = 0) -> TaskRunner | None:
    """The task runner of the per-file staging: None (the flow's own runner, the default), a
    ``DaskTaskRunner`` on the scheduler at ``dask_address`` (e.g. ``tcp://10.0.0.5:8786``), or
    one that starts a local Dask cluster of ``dask_workers`` worker processes. Giving both is
    an error (which cluster was meant is not guessable)."""
    address = (dask_address or "").strip() or None
    if dask_workers < 0:
        raise ValueError(f"dask_workers must be 0 (no local Dask cluster) or more, not "
                         f"{dask_workers}")
    if address and dask_workers:
        raise ValueError("give dask_address (an existing Dask cluster) or dask_workers "
                         "(a local one), not both")
    if not address and not dask_workers:
        return None
    from prefect_dask import DaskTaskRunner  # imported only when Dask is asked for

    if address:
        return DaskTaskRunner(address=address)
    # worker processes, one thread each: staging is mostly Python work on the CPU (parsing,
    # and Prefect's per-task context on the worker), which processes spread over cores and
    # threads of one process do not; no dashboard
    return DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


def stage_files(files: list[LandingFile], cfg: PipelineConfig, dictionaries: dict[str, LandingFile],
                runner: TaskRunner | None = None) -> list[StagedFile]:
    """Stage every file (tasks/landing.py ``stage_file``, one task run per file) and return
    their outcomes in the order of ``files``; ``dictionaries``: each site's REDCap data
    dictionary (staging.site_dictionaries). ``runner`` (:func:`staging_runner`): None maps the
    files in the calling flow's own task runner (``Task.map``); a runner is started for the
    staging, the files are mapped on it (``TaskRunner.map``, the call ``Task.map`` makes on
    the flow's runner) and it is closed once every file is staged. The task runs belong to
    the calling flow run either way, as with the default runner.

    Why not a subflow with ``with_options(task_runner=...)``: each task sent to a Dask worker
    carries its flow run's context, parameters included, so a subflow taking the file list
    would send every file's record with every file's task (quadratic in the night's files) and
    store the list as the subflow run's parameters in the Prefect API."""
    done = {} if cfg.full_refresh else already_staged(files, cfg, dictionaries)
    todo = [f for f in files if f.file_id not in done]
    if done:
        get_run_logger().info("%d of %d files unchanged since they were staged (same sha256, "
                              "reader and dictionary): read from their partitions",
                              len(done), len(files))
    staged: dict[str, StagedFile] = dict(done)
    if todo:
        task = stage_file.with_options(refresh_cache=cfg.full_refresh)
        parameters = {"f": todo, "cfg": unmapped(cfg),
                      "dictionary": [dictionary_for(f, dictionaries) for f in todo]}
        if runner is None:
            outcomes = _outcomes(task.map(**parameters))
        else:
            with temporary_settings(updates={PREFECT_API_URL: _api_url()}), \
                    runner.duplicate() as started:
                outcomes = _outcomes(started.map(task, parameters))
        staged.update((f.file_id, s) for f, s in zip(todo, outcomes))
    return [staged[f.file_id] for f in files]


def already_staged(files: list[LandingFile], cfg: PipelineConfig,
                   dictionaries: dict[str, LandingFile]) -> dict[str, StagedFile]:
    """The files whose partition is already in the stage folder (same sha256, reader code,
    trial fields and site dictionary), as their staged record (``cached``), read here in the
    flow: a Prefect task run per unchanged file cost more than reading its partition's
    metadata (a night with nothing new: hundreds of task runs)."""
    fields = cfg.trial.redcap_fields
    out = {}
    for f in files:
        dictionary = dictionary_for(f, dictionaries)
        if is_staged(cfg.stage_dir, f.sha256, dictionary, fields):
            out[f.file_id] = stage_export(f, cfg.stage_dir, dictionary=dictionary,
                                          redcap_fields=fields)
    return out


def _api_url() -> str | None:
    """The Prefect API this flow run talks to, for the Dask workers: the settings travel with
    each task, and a run without PREFECT_API_URL (``isletflow run`` by default) talks to a
    temporary server its process started (``http://127.0.0.1:<port>/api``), which the
    settings do not name: without it every worker process would start a Prefect server of
    its own. Workers on other machines cannot reach that one: they need a Prefect server
    (``isletflow serve``, a deployment) that they can reach."""
    if PREFECT_API_URL.value():
        return PREFECT_API_URL.value()
    ctx = FlowRunContext.get()
    return str(ctx.client.api_url).rstrip("/") if ctx and ctx.client else None


def _outcomes(futures) -> list[StagedFile]:
    """Wait for every staged file; a Prefect cache hit (same sha256, reader code and stage
    folder) is marked ``cached`` (unchanged since a previous run)."""
    return [dataclasses.replace(s, cached=True) if f.state.name == "Cached" else s
            for f, s in ((f, f.result()) for f in futures)]
