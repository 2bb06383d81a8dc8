"""The night's first step: every contract is run on canary rows that break it
(isletflow/canary.py) before any data is read."""

from __future__ import annotations

import time

from prefect import get_run_logger, task

from isletflow.canary import check_canaries
from isletflow.trial import Trial


@task(name="canary-checks", timeout_seconds=300)
def check_contracts(trial: Trial) -> dict[str, int]:
    """Run every pandera contract, GX suite and key schema of ``trial`` on its committed
    canary rows (schemas/canaries/), the EDC suites on rows built from the trial's REDCap
    dictionary; :class:`isletflow.canary.CanaryError` (the night fails) when a check lets a
    row that breaks it pass, fails the valid row, or has no committed row (a check added or
    changed without `isletflow canary --write`). Runs every night, an unchanged one too: the
    code, the trial file or a library can weaken a check while the data stay the same.
    Returns the canary rows run per contract."""
    t0 = time.perf_counter()
    results = check_canaries(trial)
    log = get_run_logger()
    for r in results:
        for extra in r.extra:
            log.warning("canary: %s", extra)
    log.info("canaries: %d contracts, %d canary rows (%d committed) and %d frame-wide rules, "
             "every check fired (%.2f s)", len(results), sum(r.rows for r in results),
             sum(r.committed for r in results), sum(r.whole for r in results),
             time.perf_counter() - t0)
    return {r.name: r.rows for r in results}
