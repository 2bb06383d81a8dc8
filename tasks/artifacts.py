"""Tasks that tell people what a run did: Prefect artifacts (markdown and table)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from isletflow.run_summary import endpoint_changes, endpoint_summary, run_markdown


@task(name="previous-summary", retries=2, retry_delay_seconds=5, timeout_seconds=300)
def previous_summary(warehouse: Path) -> pl.DataFrame | None:
    """The endpoint summary as last published (to show what this run changes)."""
    return endpoint_summary(warehouse)


@task(name="run-artifacts", retries=2, retry_delay_seconds=5, timeout_seconds=300)
def run_artifacts(summary: dict, warehouse: Path, previous: pl.DataFrame | None,
                  data_docs: Path | None) -> int:
    """Markdown summary of the run and a table artifact of the endpoint summary; returns the
    number of endpoint values that changed since the previous run."""
    current = endpoint_summary(warehouse)
    changes = endpoint_changes(previous, current)
    create_markdown_artifact(key="nightly-run-summary",
                             markdown=run_markdown(summary, warehouse, changes, data_docs),
                             description=f"Nightly run {summary['run_id']}")
    create_table_artifact(key="nightly-endpoint-summary", table=current.to_dicts(),
                          description="Endpoint summary per participant (published warehouse)")
    return changes.height
