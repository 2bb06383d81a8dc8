"""One typed configuration object for a pipeline run, plus the trial's fixed registry.

The flow builds a :class:`PipelineConfig` from its parameters and hands it down to every task;
nothing below the flow reads the environment or a global for run settings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"


@dataclass(frozen=True)
class Site:
    """A trial site: where its exports come from and which clock its devices use."""

    site_id: str
    city: str
    country: str
    region: str
    timezone: str


# The trial's site registry (the protocol's site list). Device timestamps are local to the site.
SITES: tuple[Site, ...] = (
    Site("US01", "Chicago", "US", "North America", "America/Chicago"),
    Site("CA01", "Toronto", "CA", "North America", "America/Toronto"),
    Site("DE01", "Berlin", "DE", "Europe", "Europe/Berlin"),
    Site("GB01", "London", "GB", "Europe", "Europe/London"),
)
SITES_BY_ID = {s.site_id: s for s in SITES}


@dataclass(frozen=True)
class AnalysisWindow:
    """A CGM analysis window in study days, both ends inclusive (day 0 = infusion day)."""

    name: str
    start_day: int
    end_day: int

    @property
    def n_days(self) -> int:
        return self.end_day - self.start_day + 1


# Baseline: the 28 days before infusion. Follow-up windows: the 28 days ending on the nominal
# visit day (day 365's window cannot extend past the one-year follow-up). The International
# Consensus on Time in Range (Battelino et al., Diabetes Care 2019;42:1593) asks for >= 14 days;
# 28 days leaves room for sensor gaps.
ANALYSIS_WINDOWS: tuple[AnalysisWindow, ...] = (
    AnalysisWindow("baseline", -28, -1),
    AnalysisWindow("day_90", 63, 90),
    AnalysisWindow("day_180", 153, 180),
    AnalysisWindow("day_270", 243, 270),
    AnalysisWindow("day_365", 338, 365),
)

# Nominal study day of each scheduled lab visit (central-lab and EDC visit labels).
VISIT_DAYS: dict[str, int] = {
    "screening": -21,
    "day_28": 28,
    "day_56": 56,
    "day_90": 90,
    "day_120": 120,
    "day_180": 180,
    "day_270": 270,
    "day_365": 365,
}

# The REDCap fields the trial collects, per form: exactly the `field = '...'` names that the
# core SQL reads from `raw.redcap WHERE form = '...'` (sql/core/0*.sql; a test keeps the two
# equal). The nightly stages only these (plus their checkbox columns and REDCap's own columns:
# record id, event, repeat instrument and instance, data access group, <form>_complete); every
# other field of an export is dropped by name, its values never stored (readers/redcap.py).
TRIAL_REDCAP_FIELDS: dict[str, tuple[str, ...]] = {
    "enrolment": ("enrol_date", "age", "sex", "weight_kg", "t1d_duration_y"),
    "infusion": ("infusion_date", "study_part", "dose_fraction"),
    "severe_hypoglycemia": ("she_date", "she_assist", "she_glucose_mg_dl"),
    "insulin_diary": ("diary_date", "basal_u", "bolus_u"),
    "adverse_events": ("ae_term", "ae_soc", "ae_onset_date", "ae_serious", "ae_grade",
                       "ae_outcome"),
    "concomitant_medications": ("cm_name", "cm_indication", "cm_start_date", "cm_stop_date"),
    "disposition": ("dispo_status", "dispo_date", "death_cause"),
}

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
    windows: tuple[AnalysisWindow, ...] = ANALYSIS_WINDOWS
    site_registry: tuple[Site, ...] = field(default=SITES)

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
    ) -> "PipelineConfig":
        unknown = sorted(set(sites or ()) - set(SITES_BY_ID))
        if unknown:
            raise ValueError(f"unknown site(s) {unknown}; known sites: {sorted(SITES_BY_ID)}")
        return cls(
            landing_dir=Path(landing_dir).resolve(),
            warehouse=Path(warehouse).resolve(),
            as_of=as_of,
            sites=tuple(sorted(sites)) if sites else None,
            full_refresh=full_refresh,
            stage_root=Path(stage_dir).resolve() if stage_dir else None,
        )


# Safety and beta-cell function thresholds (sources in the endpoint docstrings).
ANC_LLN_PER_MM3 = 2000.0        # central lab's lower limit of normal for ANC (reference range)
C_PEPTIDE_LLOQ_PMOL_L = 10.0    # lower limit of quantification of the C-peptide assay
IGLS_C_PEPTIDE_MIN_PMOL_L = 170.0  # Igls footnote b: > 0.17 nmol/L fasting or stimulated
# Systemic glucocorticoids: any on the medication form is a protocol deviation (the regimen is
# glucocorticoid-free). Matched case-insensitively as whole words of the medication name.
GLUCOCORTICOIDS = ("prednisone", "prednisolone", "methylprednisolone", "dexamethasone",
                   "hydrocortisone", "cortisone", "betamethasone", "triamcinolone",
                   "deflazacort", "budesonide", "fludrocortisone")
