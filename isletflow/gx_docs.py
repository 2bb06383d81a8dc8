"""Render Great Expectations Data Docs (a static HTML site) for validations of pandas frames.

One call = one run: every frame is validated against its suite (result_format SUMMARY: counts
and at most ``PARTIAL_UNEXPECTED_COUNT`` unexpected values per expectation, never whole rows),
the results are stored as JSON under ``out_dir/_validation_results/``, and the site is
(re)built in ``out_dir`` (``out_dir/index.html``). Reusing ``out_dir`` accumulates runs on the
index; deleting a run's folder under ``_validation_results/`` drops its page at the next build.

Nothing is written outside ``out_dir``: the Data Context is ephemeral (in-memory stores, no
``gx/`` folder, no default temp docs site) and only its validation results store and its docs
site point at ``out_dir``. Tested with great-expectations 1.24.1.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import threading
import urllib.parse
from pathlib import Path
from typing import Callable

import great_expectations as gx
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.data_context.context_factory import project_manager
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
)
from great_expectations.exceptions import DataContextRequiredError

SITE_NAME = "nightly"
RESULTS_SUBDIR = "_validation_results"
PARTIAL_UNEXPECTED_COUNT = 20
_LOCK = threading.Lock()  # one build at a time: the "current context" is process-wide
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT}


def build_data_docs(
    frames: dict[str, tuple[pd.DataFrame, Callable[[], gx.ExpectationSuite]]],
    out_dir: Path,
    run_name: str,
) -> Path:
    """Validate each ``{table: (frame, suite_factory)}`` and render the Data Docs site into
    ``out_dir``; return the path of its ``index.html``."""
    if not run_name or "/" in run_name or "\\" in run_name:
        raise ValueError(f"run_name must be a non-empty name without slashes: {run_name!r}")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),  # in memory; no temp docs site
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    config.stores[config.validation_results_store_name] = {  # file-backed: runs accumulate
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(out_dir / RESULTS_SUBDIR)},
    }
    config.data_docs_sites = {SITE_NAME: {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(out_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        # GX treats a run whose name contains "profiling" as a profiling run and hides it from
        # the validations section by default: show every run, render no profiling section.
        "site_section_builders": {"profiling": "False",
                                  "validations": {"run_name_filter": {"matches_regex": ".*"}}},
    }}

    with _LOCK:
        return _build(frames, out_dir, run_name, config)


def _build(frames, out_dir: Path, run_name: str, config: DataContextConfig) -> Path:
    # get_context() makes the new context the process-wide "current" one; put back the
    # caller's (e.g. the context isletflow.quality caches) when done.
    try:
        previous = project_manager.get_current_project()
    except DataContextRequiredError:  # none yet
        previous = None
    try:
        context = gx.get_context(mode="ephemeral", project_config=config)
        run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.timezone.utc))
        datasource = context.data_sources.add_pandas("frames")
        suite_ids = set()
        for table, (frame, suite_factory) in frames.items():
            batch_definition = (datasource.add_dataframe_asset(table)
                                .add_batch_definition_whole_dataframe("whole"))
            suite = suite_factory()
            if suite.name in {s.name for s in context.suites.all()}:
                suite = context.suites.get(suite.name)  # two tables sharing one suite
            else:
                suite = context.suites.add(suite)
            suite_ids.add(ExpectationSuiteIdentifier(name=suite.name))
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=table, data=batch_definition, suite=suite))
            validation.run(batch_parameters={"dataframe": frame},
                           result_format=RESULT_FORMAT, run_id=run_id)

        store = context.validation_results_store
        all_keys = store.list_keys()
        new_keys = [k for k in all_keys if k.run_id.to_tuple() == run_id.to_tuple()]
        # Render only this run's pages (and the suites); the index still lists every stored run.
        context.build_data_docs(site_names=[SITE_NAME],
                                resource_identifiers=[*new_keys, *suite_ids])
        index = out_dir / "index.html"
        # raw JSON, not store.get(): GX's own index build already deserialised every result once
        _add_offline_run_list(index, out_dir, [
            (k, json.loads(store.store_backend.get(k.to_tuple()))["success"]) for k in all_keys])
        return index
    finally:
        project_manager.set_project(previous)


def _add_offline_run_list(index: Path, out_dir: Path, results: list) -> None:
    """GX's index fills its tables with jQuery/bootstrap-table loaded from CDNs, so offline it
    shows no links at all. Insert a plain-HTML list of the result pages, hidden when jQuery
    did load (the CDN scripts are in <head>, so they have run by then)."""
    rows = []
    for key, success in sorted(results, key=lambda r: r[0].run_id.run_time, reverse=True):
        # the page path GX's index uses (DefaultSiteIndexBuilder.add_resource_info_to_index_links_dict)
        page = "/".join(["validations", *key.expectation_suite_identifier.name.split("."),
                         *key.run_id.to_tuple(), key.batch_identifier]) + ".html"
        if not (out_dir / page).is_file():
            continue
        rel = urllib.parse.quote(page)
        rows.append(
            f"<tr><td>{html.escape(key.run_id.run_time.strftime('%Y-%m-%d %H:%M:%S UTC'))}</td>"
            f"<td>{html.escape(key.run_id.run_name or '')}</td>"
            f"<td>{html.escape(key.expectation_suite_identifier.name)}</td>"
            f"<td>{html.escape(key.batch_identifier.removeprefix('frames-'))}</td>"
            f"<td>{'passed' if success else 'FAILED'}</td>"
            f"<td><a href=\"{html.escape(rel)}\">open</a></td></tr>")
    block = (
        '<div id="offline-run-list" style="margin:1em 3em">'
        "<h3>Validation results</h3><table border=\"1\" cellpadding=\"4\">"
        "<tr><th>Run time</th><th>Run name</th><th>Suite</th><th>Table</th><th>Status</th>"
        "<th></th></tr>" + "".join(rows) + "</table></div>"
        "<script>if (window.jQuery) document.getElementById('offline-run-list')"
        ".style.display = 'none';</script>")
    text = index.read_text(encoding="utf-8")
    text = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + block, text, count=1)
    index.write_text(text, encoding="utf-8")
