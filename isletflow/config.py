"""One typed configuration object for a pipeline run.

The flow builds a :class:`PipelineConfig` from its parameters and hands it down to every task;
nothing below the flow reads the environment or a global for run settings. The trial itself
(sites, visits, REDCap and lab mappings, endpoint parameters) is data: ``trials/<name>.toml``,
loaded and validated by :mod:`isletflow.trial` into ``PipelineConfig.trial``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from isletflow.trial import Trial, load_trial

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"


@dataclass(frozen=True)
class AnalysisWindow:
    """A CGM analysis window in study days, both ends inclusive (a trial's ``[[cgm_windows]]``)."""

    name: str
    start_day: int
    end_day: int

    @property
    def n_days(self) -> int:
        return self.end_day - self.start_day + 1


# Expected sampling interval of each CGM device type, minutes (for % time CGM active).
DEVICE_INTERVAL_MIN: dict[str, int] = {"dexcom": 5, "libre_historic": 15}


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of one nightly run, built once from the flow's parameters."""

    landing_dir: Path
    warehouse: Path
    as_of: dt.date | None = None
    sites: tuple[str, ...] | None = None
    full_refresh: bool = False
    stage_root: Path | None = None
    trial: Trial = field(default_factory=load_trial)

    @property
    def windows(self) -> tuple[AnalysisWindow, ...]:
        """The trial's CGM analysis windows."""
        return tuple(AnalysisWindow(w.name, *w.days) for w in self.trial.cgm_windows)

    @property
    def reference_time(self) -> dt.datetime | None:
        """End of the as-of day (UTC): nothing may be dated after it. None: the run's start."""
        if self.as_of is None:
            return None
        return dt.datetime.combine(self.as_of + dt.timedelta(days=1), dt.time())

    @property
    def stage_dir(self) -> Path:
        """Per-file Parquet partitions, keyed by sha256: ``stage_root`` (data cuts share the
        nightly's), else next to the warehouse."""
        return self.stage_root or self.warehouse.parent / "stage"

    @property
    def quality_dir(self) -> Path:
        """Per-site query listings written each run: ``quality/`` next to the warehouse, or
        ``<name>.quality/`` for an as-of run (a data cut keeps its own listings)."""
        if self.as_of is not None:
            return self.warehouse.with_name(f"{self.warehouse.stem}.quality")
        return self.warehouse.parent / "quality"

    @property
    def docs_dir(self) -> Path:
        """Great Expectations Data Docs of every run: ``gx_docs/`` next to the warehouse, or
        ``<name>.gx_docs/`` for an as-of run (a data cut)."""
        if self.as_of is not None:
            return self.warehouse.with_name(f"{self.warehouse.stem}.gx_docs")
        return self.warehouse.parent / "gx_docs"

    @classmethod
    def from_params(
        cls,
        landing_dir: str | Path,
        warehouse: str | Path,
        as_of: dt.date | None = None,
        sites: list[str] | None = None,
        full_refresh: bool = False,
        stage_dir: str | Path | None = None,
        trial: str | Path | Trial | None = None,
    ) -> "PipelineConfig":
        """Settings from the flow's parameters; ``trial`` is checked first
        (:class:`~isletflow.trial.TrialError` lists every mistake in the file)."""
        trial = trial if isinstance(trial, Trial) else load_trial(trial)
        unknown = sorted(set(sites or ()) - set(trial.site_ids))
        if unknown:
            raise ValueError(f"unknown site(s) {unknown}; sites of {trial.study.id}: "
                             f"{trial.site_ids}")
        return cls(
            landing_dir=Path(landing_dir).resolve(),
            warehouse=Path(warehouse).resolve(),
            as_of=as_of,
            sites=tuple(sorted(sites)) if sites else None,
            full_refresh=full_refresh,
            stage_root=Path(stage_dir).resolve() if stage_dir else None,
            trial=trial,
        )
