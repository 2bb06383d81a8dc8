"""Every endpoint table, declared once: its name, the function that computes it, and what it
reads (core tables and other endpoint tables).

The build (isletflow/build.py ``compute_endpoints``) reads this list in order and computes a
table when one of its inputs changed this night: which tables a changed input touches is read
from here, never wired by hand. An endpoint declared ``by_participant`` computes each
participant's rows from that participant's inputs only (true of the CGM endpoints: metrics per
window, hypoglycaemia events and their counts), so a night recomputes only the participants
whose inputs changed and replaces their rows; the others are recomputed whole (small tables:
measured cheaper than tracking their rows). A new endpoint is one module and one line here.

Each ``compute`` takes the inputs as polars frames by name (``core.<table>``: current rows
only, lineage columns kept; ``endpoints.<table>``) and the :class:`Context` of the run, and
returns the table. The definitions and their sources are in each function's docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from isletflow.config import AnalysisWindow
from isletflow.endpoints.adverse_event_summary import adverse_event_summary
from isletflow.endpoints.c_peptide import c_peptide_by_visit
from isletflow.endpoints.cgm_hypo_event_counts import cgm_hypo_event_counts
from isletflow.endpoints.cgm_hypo_events import cgm_hypo_events
from isletflow.endpoints.cgm_window_metrics import cgm_window_metrics
from isletflow.endpoints.deaths import deaths
from isletflow.endpoints.disposition_summary import disposition_summary
from isletflow.endpoints.hba1c import hba1c_by_visit
from isletflow.endpoints.igls import igls_outcome
from isletflow.endpoints.insulin_at_visit import insulin_at_visit
from isletflow.endpoints.insulin_independence import insulin_independence
from isletflow.endpoints.neutropenia import neutropenia
from isletflow.endpoints.participant_summary import participant_summary
from isletflow.endpoints.primary_endpoint import primary_endpoint
from isletflow.endpoints.prohibited_medications import prohibited_medications
from isletflow.endpoints.she_free import she_free
from isletflow.endpoints.she_listing import she_listing
from isletflow.trial import Trial

Frames = dict[str, pl.DataFrame]


@dataclass(frozen=True)
class Context:
    """What every endpoint may use besides its inputs: the trial and its CGM windows."""

    trial: Trial
    windows: tuple[AnalysisWindow, ...]


@dataclass(frozen=True)
class Endpoint:
    name: str
    inputs: tuple[str, ...]
    compute: Callable[[Frames, Context], pl.DataFrame]
    by_participant: bool = False


def _inf(t: Frames, ctx: Context) -> pl.DataFrame:
    """core.infusions with the trial's study-day convention (endpoints/study_day.py)."""
    return t["core.infusions"].with_columns(infusion_day=pl.lit(ctx.trial.infusion_day,
                                                                pl.Int32))


def _series(t: Frames) -> pl.DataFrame:
    """The CGM series of the hypoglycaemia events: current readings of the continuous devices
    (Libre scans are spot checks, not a series)."""
    return t["core.cgm_readings"].filter(pl.col("device") != "libre_scan").select(
        "participant_id", "timestamp_local", "glucose_mg_dl", "interval_min",
        timestamp="timestamp_utc")


def _she_free(t: Frames, c: Context) -> pl.DataFrame:
    return she_free(t["core.she_events"], _inf(t, c), *c.trial.endpoints.primary.she_days)


def _hba1c(t: Frames, c: Context) -> pl.DataFrame:
    return hba1c_by_visit(t["core.lab_results"], _inf(t, c), c.trial.lab_visit_days)


def _cgm(t: Frames, c: Context) -> pl.DataFrame:
    return cgm_window_metrics(t["core.cgm_readings"], _inf(t, c), c.windows)


def _insulin(t: Frames, c: Context) -> pl.DataFrame:
    ii = c.trial.endpoints.insulin_independence
    return insulin_independence(t["core.insulin_diary"], _inf(t, c), t["core.participants"],
                                *ii.days, ii.baseline_days)


def _primary(t: Frames, c: Context) -> pl.DataFrame:
    p = c.trial.endpoints.primary
    return primary_endpoint(t["endpoints.she_free"], t["endpoints.hba1c"], _inf(t, c),
                            *p.hba1c_days, p.she_days, p.hba1c_below_pct, p.hba1c_drop_pp,
                            c.trial.efficacy_arms)


def _summary(t: Frames, c: Context) -> pl.DataFrame:
    return participant_summary(t["core.participants"], _inf(t, c), t["endpoints.she_free"],
                               t["endpoints.hba1c"], t["endpoints.cgm_metrics"],
                               t["endpoints.insulin_independence"],
                               t["endpoints.primary_endpoint"], t["core.disposition"],
                               c.trial.endpoints.summary_window)


def _hypo(t: Frames, c: Context) -> pl.DataFrame:
    series = _series(t)
    return pl.concat([cgm_hypo_events(series, 70.0), cgm_hypo_events(series, 54.0)]
                     ).sort("participant_id", "level", "start")


def _hypo_counts(t: Frames, c: Context) -> pl.DataFrame:
    return cgm_hypo_event_counts(t["endpoints.cgm_hypo_events"], _inf(t, c), c.windows)


def _she_listing(t: Frames, c: Context) -> pl.DataFrame:
    return she_listing(t["core.she_events"], _inf(t, c), *c.trial.endpoints.primary.she_days)


def _insulin_at_visit(t: Frames, c: Context) -> pl.DataFrame:
    return insulin_at_visit(t["core.insulin_diary"], _inf(t, c), c.trial.lab_visit_days,
                            c.trial.endpoints.insulin_independence.days_before_visit)


def _c_peptide(t: Frames, c: Context) -> pl.DataFrame:
    return c_peptide_by_visit(t["core.lab_results"], _inf(t, c), c.trial.lab_visit_days,
                              c.trial.safety.c_peptide_lloq_pmol_l)


def _igls(t: Frames, c: Context) -> pl.DataFrame:
    ep = c.trial.endpoints
    return igls_outcome(t["endpoints.hba1c"], t["core.she_events"], t["core.insulin_diary"],
                        t["endpoints.c_peptide"], t["core.participants"], _inf(t, c), ep.igls,
                        ep.insulin_independence.baseline_days)


def _ae(t: Frames, c: Context) -> pl.DataFrame:
    return adverse_event_summary(t["core.adverse_events"], _inf(t, c))


def _neutropenia(t: Frames, c: Context) -> pl.DataFrame:
    return neutropenia(t["core.lab_results"], t["core.adverse_events"], _inf(t, c),
                       c.trial.safety.anc_lln_per_mm3)


def _deaths(t: Frames, c: Context) -> pl.DataFrame:
    return deaths(t["core.disposition"], t["core.adverse_events"], _inf(t, c))


def _prohibited(t: Frames, c: Context) -> pl.DataFrame:
    return prohibited_medications(t["core.concomitant_medications"], _inf(t, c),
                                  c.trial.safety.prohibited_medications)


def _disposition(t: Frames, c: Context) -> pl.DataFrame:
    return disposition_summary(t["core.participants"], _inf(t, c), t["core.disposition"],
                               t["core.sites"], [a.id for a in c.trial.arms])


# In dependency order: an endpoint reads only tables declared above it.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("cgm_metrics", ("core.cgm_readings", "core.infusions"), _cgm, by_participant=True),
    Endpoint("she_free", ("core.she_events", "core.infusions"), _she_free),
    Endpoint("hba1c", ("core.lab_results", "core.infusions"), _hba1c),
    Endpoint("insulin_independence",
             ("core.insulin_diary", "core.infusions", "core.participants"), _insulin),
    Endpoint("primary_endpoint",
             ("endpoints.she_free", "endpoints.hba1c", "core.infusions"), _primary),
    Endpoint("participant_summary",
             ("core.participants", "core.infusions", "endpoints.she_free", "endpoints.hba1c",
              "endpoints.cgm_metrics", "endpoints.insulin_independence",
              "endpoints.primary_endpoint", "core.disposition"), _summary),
    Endpoint("cgm_hypo_events", ("core.cgm_readings",), _hypo, by_participant=True),
    Endpoint("cgm_hypo_event_counts", ("endpoints.cgm_hypo_events", "core.infusions"),
             _hypo_counts, by_participant=True),
    Endpoint("she_listing", ("core.she_events", "core.infusions"), _she_listing),
    Endpoint("insulin_at_visit", ("core.insulin_diary", "core.infusions"), _insulin_at_visit),
    Endpoint("c_peptide", ("core.lab_results", "core.infusions"), _c_peptide),
    Endpoint("igls", ("endpoints.hba1c", "core.she_events", "core.insulin_diary",
                      "endpoints.c_peptide", "core.participants", "core.infusions"), _igls),
    Endpoint("adverse_events_by_term", ("core.adverse_events", "core.infusions"), _ae),
    Endpoint("neutropenia", ("core.lab_results", "core.adverse_events", "core.infusions"),
             _neutropenia),
    Endpoint("deaths", ("core.disposition", "core.adverse_events", "core.infusions"), _deaths),
    Endpoint("prohibited_medications", ("core.concomitant_medications", "core.infusions"),
             _prohibited),
    Endpoint("disposition", ("core.participants", "core.infusions", "core.disposition",
                             "core.sites"), _disposition),
)


def check_declarations(endpoints: tuple[Endpoint, ...] = ENDPOINTS) -> None:
    """Each endpoint reads only core tables and endpoint tables declared before it; a
    by-participant endpoint reads only core tables and other by-participant endpoints (its
    rows for a participant must depend on that participant's inputs only)."""
    seen: dict[str, Endpoint] = {}
    for e in endpoints:
        for name in e.inputs:
            schema, _, table = name.partition(".")
            if schema == "endpoints":
                if table not in seen:
                    raise ValueError(f"endpoint {e.name} reads {name}, not declared before it")
                if e.by_participant and not seen[table].by_participant:
                    raise ValueError(f"by-participant endpoint {e.name} reads {name}, "
                                     "which is not computed by participant")
            elif schema != "core":
                raise ValueError(f"endpoint {e.name}: input {name} is not core.* or endpoints.*")
        if e.name in seen:
            raise ValueError(f"endpoint {e.name} declared twice")
        seen[e.name] = e


check_declarations()
