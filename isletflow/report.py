"""The trial report: one self-contained HTML file from a published warehouse.

Read-only: the report opens the warehouse with a read-only connection and never writes to it.
Everything the page needs is inside the file (CSS in a ``<style>`` element, every figure an
SVG embedded as a base64 ``data:`` URI), so it can be mailed or archived with a data cut and
opens offline; it loads nothing from the network and has no scripts.

Trial-neutral: every trial constant the page shows or draws (study id and title, arms and
their labels, the study-day convention, CGM analysis windows, the visit schedule, endpoint
days and thresholds) is read from the trial definition the warehouse was built with
(``raw.trial_*``, rows of ``trials/<name>.toml``; :class:`TrialInfo`), so the same code
renders any trial.

Contents: the run the warehouse comes from; trial totals and the per-participant summary;
the primary endpoint and the Igls outcome; per participant an ambulatory glucose profile
(:func:`isletflow.endpoints.agp.agp_percentiles`) with the time in ranges, the HbA1c
trajectory and the insulin diary; safety (AEs, neutropenia, deaths, prohibited-medication
deviations) and disposition. Figures are drawn with matplotlib's object API (no pyplot, so
no global backend or state is touched).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import matplotlib
import polars as pl
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from isletflow.endpoints.agp import agp_percentiles
from isletflow.endpoints.study_day import with_study_day
from isletflow.warehouse import connect, sql_text

AGP_BIN_MINUTES = 15
AXIS_MARGIN = 0.04  # trajectory panels: margin either side, as a fraction of the schedule span

# Glucose ranges of the International Consensus on Time in Range (Battelino et al. 2019):
# label, colour (AGP report palette), consensus target for the percentage of readings.
TIR_RANGES: tuple[tuple[str, str, str], ...] = (
    ("< 54 mg/dL", "#8b1a1a", "< 1 %"),
    ("54–69 mg/dL", "#e53935", "< 4 % below 70"),
    ("70–180 mg/dL", "#43a047", "> 70 %"),
    ("181–250 mg/dL", "#fbc02d", "< 25 % above 180"),
    ("> 250 mg/dL", "#ef6c00", "< 5 %"),
)
# One figure per participant, panels at fixed places (figure fractions: left, bottom, width,
# height); a fixed layout draws three times faster than matplotlib's constrained layout.
FIGSIZE = (11.0, 7.8)
PANELS = {"agp": (0.065, 0.615, 0.625, 0.33), "tir": (0.80, 0.615, 0.15, 0.33),
          "hba1c": (0.065, 0.07, 0.385, 0.30), "insulin": (0.545, 0.07, 0.37, 0.30)}

_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "svg.fonttype": "none",      # text stays text: small files, selectable labels
    "svg.hashsalt": "isletflow",  # stable element ids: the same data gives the same SVG
}


class NoTrialDefinition(LookupError):
    """The warehouse lacks the trial definition rows (``raw.trial_*``) the report reads."""


def write_report(warehouse: Path, out: Path, title: str | None = None) -> Path:
    """Write the HTML report of the published ``warehouse`` to ``out``; returns ``out``.

    The file is written next to ``out`` first and renamed into place, so a reader never
    opens a half-written report. Endpoint tables that an older warehouse does not have are
    reported as missing instead of failing the whole report; the trial definition
    (``raw.trial_parameters``, ``raw.trial_arms``, ``raw.trial_visits``) is required
    (:class:`NoTrialDefinition` otherwise).
    """
    warehouse, out = Path(warehouse), Path(out)
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}")
    with connect(warehouse, read_only=True) as con:
        data = _load(con)
    page = _render(data, warehouse, title or "Trial report")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


# --- the trial definition --------------------------------------------------------------------

@dataclass(frozen=True)
class ArmInfo:
    """An arm (dose group) of ``raw.trial_arms``: its id, as in ``dose_group`` columns, and
    the label the trial file gives it."""

    id: str
    label: str
    dose_fraction: float
    efficacy_population: bool


@dataclass(frozen=True)
class TrialInfo:
    """The trial constants the report shows, from the warehouse's ``raw.trial_*`` rows (the
    trial file's ``study``, ``arms``, ``visits``, ``cgm_windows``, ``endpoints``, ``safety``;
    meanings in :mod:`isletflow.trial`)."""

    study_id: str
    title: str
    infusion_day: int                   # study day of the infusion: 0 (day0) or 1 (day1)
    arms: tuple[ArmInfo, ...]           # display order: efficacy population first
    windows: pl.DataFrame               # CGM analysis windows: window, start_day, end_day
    visit_days: tuple[int, ...]         # nominal study days of the visits, ascending
    summary_window: str                 # endpoints.summary_window: the AGP's window
    she_days: tuple[int, int]           # endpoints.primary.she_days
    hba1c_days: tuple[int, int]         # endpoints.primary.hba1c_days
    hba1c_below_pct: float              # endpoints.primary.hba1c_below_pct
    hba1c_drop_pp: float                # endpoints.primary.hba1c_drop_pp
    insulin_days: tuple[int, int]       # endpoints.insulin_independence.days
    igls_day: int                       # endpoints.igls.day
    igls_optimal_max_pct: float         # endpoints.igls.hba1c_optimal_max_pct
    igls_she_baseline_days: tuple[int, int]  # endpoints.igls.she_baseline_days
    prohibited_reason: str              # safety.prohibited_reason
    hba1c_conversions: tuple[tuple[str, float, float], ...] = ()  # (unit, factor, addend)

    def arm(self, dose: str | None) -> ArmInfo | None:
        return next((a for a in self.arms if a.id == dose), None)

    def arm_label(self, dose: str | None) -> str:
        """The arm's label from the trial file; a dose group it does not define as is."""
        if dose is None:
            return "no infusion recorded"
        a = self.arm(dose)
        return a.label if a else dose

    def arm_rank(self, dose: str | None) -> int:
        ids = [a.id for a in self.arms]
        return ids.index(dose) if dose in ids else len(ids) + (dose is None)

    @property
    def last_visit_day(self) -> int:
        return self.visit_days[-1]

    @property
    def baseline_window(self) -> dict | None:
        """The CGM window the follow-up windows are compared with: of the windows that end
        before the infusion day, the one ending last (the sample trial's ``baseline``)."""
        before = self.windows.filter(pl.col("end_day") < self.infusion_day)
        return before.sort("end_day").row(-1, named=True) if before.height else None

    @property
    def day_axis(self) -> tuple[int, int]:
        """x-range of the trajectory panels: the schedule (the first CGM window start or
        visit to the last CGM window end or visit, nominal days) with a margin of
        ``AXIS_MARGIN`` of that span, rounded to whole days, either side. The sample trial:
        -28 to 365, margin round(0.04 x 393) = 16, so -44 to 381."""
        days = list(self.visit_days) + self.windows["start_day"].to_list() \
            + self.windows["end_day"].to_list()
        lo, hi = min(days), max(days)
        m = round(AXIS_MARGIN * (hi - lo))
        return lo - m, hi + m

    @property
    def day_note(self) -> str:
        if self.infusion_day == 1:
            return "Day 1 is the infusion day (there is no day 0)."
        return "Day 0 is the infusion day."

    @property
    def efficacy_note(self) -> str:
        eff = [a.label for a in self.arms if a.efficacy_population]
        return "Efficacy population: " + _and(eff) + (" arm." if len(eff) == 1 else " arms.")

    def column_labels(self) -> dict[str, str]:
        """Headers of the columns whose meaning depends on the trial's parameters."""
        she, ins, ig = _span(self.she_days), _span(self.insulin_days), self.igls_day
        sw = _words(self.summary_window)
        lo, hi = self.igls_she_baseline_days
        before = "SHE year before" if (lo, hi) == (-365, -1) else f"SHE d{lo} to {hi}"
        out = {"she_free": f"SHE-free d{she}", "SHE-free": f"SHE-free d{she}",
               "last HbA1c < target": f"last HbA1c < {_num(self.hba1c_below_pct)} %",
               "TIR > 70 %": f"TIR {sw} > 70 %", "TIR %": f"TIR {sw} %",
               "insulin independent": f"insulin independent d{ins}",
               "she_after": f"SHE d{_span((self.infusion_day + 1, ig))}",
               "she_before": before,
               "now_u_kg": f"insulin d{ig} (U/kg/day)", "cpep_now": f"C-peptide d{ig} (pmol/L)",
               "completed": f"completed day {self.last_visit_day}"}
        out.update({f"dosed_{a.id}": f"dosed: {a.label}" for a in self.arms})
        return out


_PARAMETERS = ("study.id", "study.title", "study.study_day_convention",
               "endpoints.summary_window", "endpoints.primary.she_days",
               "endpoints.primary.hba1c_days", "endpoints.primary.hba1c_below_pct",
               "endpoints.primary.hba1c_drop_pp", "endpoints.insulin_independence.days",
               "endpoints.igls.day", "endpoints.igls.hba1c_optimal_max_pct",
               "endpoints.igls.she_baseline_days", "safety.prohibited_reason")


def _trial(con: duckdb.DuckDBPyConnection, cgm: pl.DataFrame | None) -> TrialInfo:
    """The trial definition the warehouse was built with (``raw.trial_*``). The CGM windows
    come from ``raw.trial_cgm_windows``, else (a warehouse built before that table) from the
    windows ``endpoints.cgm_metrics`` was computed for."""
    tables = {t: _table(con, f"raw.{t}")
              for t in ("trial_parameters", "trial_arms", "trial_visits", "trial_cgm_windows",
                        "trial_lab_units")}
    missing = [f"raw.{t}" for t in ("trial_parameters", "trial_arms", "trial_visits")
               if tables[t] is None or tables[t].height == 0]
    if missing:
        raise NoTrialDefinition(
            f"the warehouse holds no trial definition ({', '.join(missing)} missing or empty): "
            "it was built before trials/<name>.toml; rebuild it (isletflow run --trial ...) "
            "to report on it")
    params = tables["trial_parameters"]
    if params["file_id"].n_unique() > 1 or params["name"].is_duplicated().any():
        raise NoTrialDefinition("raw.trial_parameters holds more than one trial definition")
    p = dict(zip(params["name"].to_list(), params["value"].to_list()))
    absent = [n for n in _PARAMETERS if not p.get(n)]
    if absent:
        raise NoTrialDefinition(f"raw.trial_parameters lacks {', '.join(absent)}")
    if p["study.study_day_convention"] not in ("day0", "day1"):
        raise NoTrialDefinition("raw.trial_parameters: study.study_day_convention is "
                                f"{p['study.study_day_convention']!r}, not day0 or day1")

    def days(name: str) -> tuple[int, int]:
        lo, hi = (int(x) for x in p[name].split(","))
        return lo, hi

    arms = sorted((ArmInfo(r["arm_id"], r["label"] or r["arm_id"], r["dose_fraction"],
                           bool(r["efficacy_population"]))
                   for r in tables["trial_arms"].iter_rows(named=True)),
                  key=lambda a: (not a.efficacy_population, -a.dose_fraction, a.id))
    windows = tables["trial_cgm_windows"]
    if windows is None or windows.height == 0:
        windows = cgm if cgm is not None and cgm.height else None
    if windows is None:
        raise NoTrialDefinition("the warehouse holds no CGM analysis windows "
                                "(raw.trial_cgm_windows, endpoints.cgm_metrics)")
    windows = (windows.select("window", pl.col("start_day").cast(pl.Int32),
                              pl.col("end_day").cast(pl.Int32))
               .unique().sort("start_day", "end_day", "window"))
    units = tables["trial_lab_units"]
    conv: tuple[tuple[str, float, float], ...] = ()
    if units is not None:
        conv = tuple((r["unit"], r["factor"], r["addend"]) for r in units.filter(
            (pl.col("analyte") == "hba1c")
            & ((pl.col("factor") != 1.0) | (pl.col("addend") != 0.0))).iter_rows(named=True))
    return TrialInfo(
        study_id=p["study.id"], title=p["study.title"],
        infusion_day=1 if p["study.study_day_convention"] == "day1" else 0,
        arms=tuple(arms), windows=windows,
        visit_days=tuple(sorted(tables["trial_visits"]["nominal_day"].to_list())),
        summary_window=p["endpoints.summary_window"],
        she_days=days("endpoints.primary.she_days"),
        hba1c_days=days("endpoints.primary.hba1c_days"),
        hba1c_below_pct=float(p["endpoints.primary.hba1c_below_pct"]),
        hba1c_drop_pp=float(p["endpoints.primary.hba1c_drop_pp"]),
        insulin_days=days("endpoints.insulin_independence.days"),
        igls_day=int(p["endpoints.igls.day"]),
        igls_optimal_max_pct=float(p["endpoints.igls.hba1c_optimal_max_pct"]),
        igls_she_baseline_days=days("endpoints.igls.she_baseline_days"),
        prohibited_reason=p["safety.prohibited_reason"],
        hba1c_conversions=conv)


def _words(name: str) -> str:
    """A window name as words: ``day_365`` -> ``day 365``."""
    return name.replace("_", " ")


def _span(days: tuple[int, int]) -> str:
    return f"{days[0]}–{days[1]}"


def _num(v: float) -> str:
    """A threshold as the trial file gives it: one decimal at least (7.0), more if it has."""
    s = f"{v:.1f}"
    return s if float(s) == v else f"{v:g}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- reading the warehouse -------------------------------------------------------------------

_TABLES = ("audit.runs", "core.participants", "core.infusions", "core.insulin_diary",
           "endpoints.participant_summary", "endpoints.primary_endpoint",
           "endpoints.igls", "endpoints.cgm_metrics", "endpoints.hba1c",
           "endpoints.insulin_independence", "endpoints.adverse_events_by_term",
           "endpoints.neutropenia", "endpoints.deaths", "endpoints.prohibited_medications",
           "endpoints.disposition", "endpoints.she_listing")


def _load(con: duckdb.DuckDBPyConnection) -> dict:
    data: dict = {t: _table(con, t) for t in _TABLES}
    trial = _trial(con, data["endpoints.cgm_metrics"])
    data["trial"] = trial
    if data["core.infusions"] is not None:  # the study-day convention (with_study_day)
        data["core.infusions"] = data["core.infusions"].with_columns(
            infusion_day=pl.lit(trial.infusion_day, pl.Int32))
    data["summary_totals"] = _query(con, "endpoints/summary_totals.sql")
    data["summary_view"] = _query(con, "endpoints/summary_view.sql")
    data["agp"] = _agp(con, data["core.infusions"], trial.windows)
    return data


def _table(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame | None:
    """A table as polars; of a core table only the current rows (each record once)."""
    try:
        rel = con.table(name)
    except duckdb.CatalogException:
        return None
    if "record_status" in rel.columns:
        rel = rel.filter("record_status = 'current'")
    return rel.pl()


def _query(con: duckdb.DuckDBPyConnection, sql_file: str) -> pl.DataFrame | None:
    try:
        return con.sql(sql_text(sql_file)).pl()
    except (duckdb.CatalogException, duckdb.BinderException):  # table or column missing
        return None


def _agp(con: duckdb.DuckDBPyConnection, infusions: pl.DataFrame | None,
         windows: pl.DataFrame) -> pl.DataFrame | None:
    """AGP percentiles per participant and analysis window, from the same readings as
    endpoints.cgm_metrics: current readings of the sensor's own series (no Libre scans),
    study day from the local calendar date in the trial's convention (:func:`with_study_day`)."""
    if infusions is None:
        return None
    try:
        readings = con.sql(sql_text("report/agp_readings.sql")).pl()
    except (duckdb.CatalogException, duckdb.BinderException):  # an older warehouse
        return None
    in_window = with_study_day(readings, infusions, "timestamp_local").join_where(
        windows, pl.col("study_day") >= pl.col("start_day"),
        pl.col("study_day") <= pl.col("end_day"))
    return agp_percentiles(in_window, by=("participant_id", "window"),
                           bin_minutes=AGP_BIN_MINUTES)


# --- the page --------------------------------------------------------------------------------

_CSS = """
body { font-family: "Segoe UI", "DejaVu Sans", Arial, Helvetica, sans-serif; font-size: 14px;
       color: #1b1b1b; margin: 24px auto; max-width: 1180px; padding: 0 16px;
       line-height: 1.4; }
h1 { font-size: 24px; margin: 0 0 2px; }
p.trial { font-size: 17px; margin: 0 0 10px; color: #1d3f61; }
h2 { font-size: 19px; border-bottom: 2px solid #2c5d8f; padding-bottom: 3px;
     margin-top: 34px; color: #1d3f61; }
h3 { font-size: 16px; margin: 26px 0 4px; }
h4 { font-size: 14px; margin: 16px 0 4px; color: #333; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 12.5px; }
th, td { border: 1px solid #c9d1d9; padding: 3px 7px; text-align: left; vertical-align: top;
         white-space: nowrap; }
th { white-space: normal; }
td.text { white-space: normal; min-width: 24em; }
th { background: #eef2f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.group td { font-weight: 600; background: #f7f9fb; }
table.meta td:first-child { font-weight: 600; background: #f7f9fb; }
.facts { margin: 2px 0 6px; }
.note { color: #555; font-size: 12.5px; }
.missing { color: #8b1a1a; font-style: italic; }
.figure img { width: 100%; max-width: 1100px; height: auto; display: block; }
nav ul { margin: 4px 0 8px; }
p.ids { margin: 2px 0 2px 22px; }
.wide { overflow-x: auto; }
@media print { h2, h3 { page-break-after: avoid; }
               section.participant { page-break-inside: avoid; } }
"""


def _render(data: dict, warehouse: Path, title: str) -> str:
    t: TrialInfo = data["trial"]
    parts: list[str] = [_header(data, warehouse, title), _contents(data)]
    parts.append(_summary_section(data))
    parts.append(_participants_section(data))
    parts.append(_safety_section(data))
    parts.append(_methods_section(t))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(title)} — {_e(t.study_id)}</title>\n<style>{_CSS}</style>\n"
            f"</head>\n<body>\n{body}\n</body>\n</html>\n")


def _header(data: dict, warehouse: Path, title: str) -> str:
    t: TrialInfo = data["trial"]
    runs = data["audit.runs"]
    rows: list[tuple[str, object]] = [("Warehouse", warehouse.name)]
    if runs is not None and runs.height:
        run = runs.sort("finished_at", descending=True, nulls_last=True).row(0, named=True)
        commit = run.get("git_commit")
        rows += [("Latest run", run["run_id"]),
                 ("Run finished (UTC)", _fmt(run["finished_at"])),
                 ("Data as of", _fmt(run["as_of"]) if run["as_of"] else "run date (no cut-off)"),
                 ("Code version (git)", commit[:12] if commit else "–")]
        if run.get("status") and run["status"] != "published":
            rows.append(("Run status", run["status"]))
    else:
        rows.append(("Latest run", "no run recorded in audit.runs"))
    now = dt.datetime.now(dt.UTC)
    rows.append(("Report generated (UTC)", now.strftime("%Y-%m-%d %H:%M")))
    cells = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return (f"<header>\n<h1>{_e(title)}</h1>\n"
            f"<p class=\"trial\">{_e(t.study_id)}: {_e(t.title)}</p>\n"
            f"<table class=\"meta\">{cells}</table>\n"
            "<p class=\"note\">Participant IDs only; the warehouse holds no other personal data. "
            f"{_e(t.day_note)} {_e(t.efficacy_note)}</p>\n"
            "</header>")


def _contents(data: dict) -> str:
    t: TrialInfo = data["trial"]
    links = [("summary", "Trial summary"), ("primary", "Primary endpoint and Igls"),
             ("participants", "Participants: AGP, time in ranges, HbA1c, insulin"),
             ("safety", "Safety"), ("disposition", "Disposition"),
             ("methods", "Methods and sources")]
    items = "".join(f'<li><a href="#{a}">{_e(text)}</a></li>' for a, text in links)
    order = _participant_order(data)
    groups = []
    for dose in dict.fromkeys(d for _, d in order):
        ids = " · ".join(f'<a href="#{_anchor(p)}">{_e(p)}</a>' for p, d in order if d == dose)
        groups.append(f"<p class=\"ids\"><b>{_e(t.arm_label(dose))}:</b> {ids}</p>")
    return f"<nav><h2>Contents</h2><ul>{items}</ul>{''.join(groups)}</nav>"


def _summary_section(data: dict) -> str:
    t: TrialInfo = data["trial"]
    she, hb = t.she_days, t.hba1c_days
    return "\n".join([
        '<section id="summary"><h2>Trial summary</h2>',
        "<h4>Totals by dose group</h4>",
        _html_table(data["summary_totals"], "endpoints.participant_summary", t),
        "<h4>Per participant</h4>",
        _html_table(data["summary_view"], "endpoints.participant_summary", t),
        "</section>",
        '<section id="primary"><h2>Primary endpoint and Igls outcome</h2>',
        '<p class="note">Primary endpoint: no severe hypoglycaemic event from day '
        f"{she[0]} through day {she[1]} and HbA1c &lt; {_num(t.hba1c_below_pct)} % or a "
        f"decrease of ≥ {_num(t.hba1c_drop_pp)} percentage point from baseline at one or more "
        f"time points from day {hb[0]} to day {hb[1]}. Empty = not evaluable.</p>",
        _html_table(data["endpoints.primary_endpoint"], "endpoints.primary_endpoint", t),
        f"<h4>Igls criteria at day {t.igls_day} (Rickels et al., Transpl Int "
        "2018;31:343)</h4>",
        _html_table(data["endpoints.igls"], "endpoints.igls", t),
        "</section>",
    ])


def _participant_order(data: dict) -> list[tuple[str, str | None]]:
    """(participant, dose group): the trial's arms in display order (efficacy population
    first, then by dose, highest first; :class:`TrialInfo`), dose groups the trial does not
    define after them, participants without an infusion last; by ID within a group."""
    t: TrialInfo = data["trial"]
    src = data["endpoints.participant_summary"]
    if src is None:
        src = data["core.infusions"]
    if src is None:
        src = data["core.participants"]
    if src is None:
        return []
    if "dose_group" not in src.columns:
        src = src.with_columns(dose_group=pl.lit(None, pl.String))
    pairs = set(src.select("participant_id", "dose_group").iter_rows())
    return sorted(pairs, key=lambda r: (t.arm_rank(r[1]), r[1] or "", r[0]))


def _participants_section(data: dict) -> str:
    t: TrialInfo = data["trial"]
    order = _participant_order(data)
    win = {w["window"]: f"days {w['start_day']} to {w['end_day']}"
           for w in t.windows.iter_rows(named=True)}
    base = t.baseline_window
    compared = (f", with the baseline median ({_e(win[base['window']])}) dashed for "
                "comparison. Right: time in ranges, baseline vs the same window" if base
                else ". Right: time in ranges in the same window")
    parts = ['<section id="participants"><h2>Participants: AGP, time in ranges, HbA1c, '
             "insulin</h2>",
             f'<p class="note">Left: ambulatory glucose profile (AGP) of the '
             f"{_e(_words(t.summary_window))} window "
             f"({_e(win.get(t.summary_window, '?'))}; the latest window with CGM data where "
             f"that one has none){compared}. Below: HbA1c and insulin diary by study day.</p>"]
    current: object = object()  # no group yet (None is a group: no infusion recorded)
    for pid, dose in order:
        if dose != current:
            n = sum(1 for _, d in order if d == dose)
            arm = t.arm(dose)
            extra = " — efficacy population" if arm and arm.efficacy_population else ""
            noun = "participant" if n == 1 else "participants"
            parts.append(f"<h3>{_e(t.arm_label(dose))} ({n} {noun}){extra}</h3>")
            current = dose
        parts.append(_participant(data, pid, dose))
    parts.append("</section>")
    return "\n".join(parts)


def _participant(data: dict, pid: str, dose: str | None) -> str:
    t: TrialInfo = data["trial"]
    cgm = _rows(data["endpoints.cgm_metrics"], pid)
    agp = _rows(data["agp"], pid)
    shown = _agp_window(agp, t)
    facts = _facts(data, pid, dose)
    try:
        img = _figure_uri(_participant_figure(data, pid, shown, agp, cgm))
        fig = (f'<div class="figure"><img src="{img}" alt="{_e(pid)}: ambulatory glucose '
               f'profile, time in ranges, HbA1c and insulin"></div>')
    except Exception as err:  # a figure must not sink the report; say so on the page
        fig = f'<p class="missing">figure not drawn: {_e(type(err).__name__)}: {_e(err)}</p>'
    table = _cgm_table(cgm, shown, t)
    return (f'<section class="participant" id="{_anchor(pid)}">\n<h4>{_e(pid)}</h4>\n'
            f'<p class="facts">{facts}</p>\n{fig}\n{table}\n</section>')


def _facts(data: dict, pid: str, dose: str | None) -> str:
    """One line of HTML: dose, site, status, insulin, primary endpoint, Igls."""
    t: TrialInfo = data["trial"]
    bits = [t.arm_label(dose)]
    s = _rows(data["endpoints.participant_summary"], pid)
    if s is not None and s.height:
        r = s.row(0, named=True)
        bits.append(f"site {r['site_id']}")
        status = r.get("status") or "status unknown"
        d = _rows(data["endpoints.deaths"], pid)
        if status == "died" and d is not None and d.height:
            status = f"died on day {d['study_day'][0]} ({d['cause'][0]})"
        bits.append(status)
        if r.get("insulin_independent") is not None:
            days = _span(t.insulin_days)
            ind = (f"insulin independent d{days}" if r["insulin_independent"]
                   else f"not insulin independent d{days}")
            if r.get("insulin_dose_change_pct") is not None:
                ind += f" (dose {r['insulin_dose_change_pct']:+.0f} % vs baseline)"
            bits.append(ind)
    p = _rows(data["endpoints.primary_endpoint"], pid)
    if p is not None and p.height:
        met = p["primary_met"][0]
        word = "not evaluable" if met is None else ("met" if met else "not met")
        bits.append(f"primary endpoint {word}")
    i = _rows(data["endpoints.igls"], pid)
    if i is not None and i.height and i["igls_status"][0]:
        bits.append(f"Igls d{t.igls_day}: {i['igls_status'][0]}")
    return " · ".join(_e(b) for b in bits)


def _agp_window(agp: pl.DataFrame | None, t: TrialInfo) -> dict | None:
    """The window the AGP shows: the trial's summary window (``endpoints.summary_window``) if
    it has readings, else the latest follow-up window (one ending on or after the infusion
    day) that has; None without any follow-up readings."""
    if agp is None or agp.height == 0:
        return None
    have = set(agp["window"].to_list())
    follow = [w for w in t.windows.sort("end_day").iter_rows(named=True)
              if w["end_day"] >= t.infusion_day and w["window"] in have]
    preferred = [w for w in follow if w["window"] == t.summary_window]
    chosen = preferred[0] if preferred else (follow[-1] if follow else None)
    if chosen is None:
        return None
    return {**chosen, "fallback": not preferred}


def _compared_windows(t: TrialInfo, shown: dict | None) -> list[str]:
    """The windows of the time-in-ranges panel and table: baseline, then the AGP's."""
    base = t.baseline_window
    return ([base["window"]] if base else []) + ([shown["window"]] if shown else [])


def _cgm_table(cgm: pl.DataFrame | None, shown: dict | None, t: TrialInfo) -> str:
    """Consensus metrics, baseline vs the AGP's window, with the consensus targets."""
    if cgm is None or cgm.height == 0:
        return '<p class="missing">no CGM metrics (endpoints.cgm_metrics)</p>'
    cols = _compared_windows(t, shown)
    by = {r["window"]: r for r in cgm.iter_rows(named=True)}
    metrics = [("days with data", "days_with_data", "≥ 14", 0),
               ("CGM active (%)", "cgm_active_pct", "≥ 70", 1),
               ("mean glucose (mg/dL)", "mean_glucose_mg_dl", "", 0),
               ("GMI (%)", "gmi_pct", "", 1),
               ("CV (%)", "cv_pct", "≤ 36", 1),
               ("TIR 70–180 mg/dL (%)", "tir_pct", "> 70", 1),
               ("TBR < 70 mg/dL (%)", "tbr70_pct", "< 4", 1),
               ("TBR < 54 mg/dL (%)", "tbr54_pct", "< 1", 1),
               ("TAR > 180 mg/dL (%)", "tar180_pct", "< 25", 1),
               ("TAR > 250 mg/dL (%)", "tar250_pct", "< 5", 1),
               ("sufficient data", "sufficient", "yes", 0)]
    head = "".join(f"<th>{_e(_window_label(by.get(w), w))}</th>" for w in cols)
    body = []
    for label, col, target, nd in metrics:
        cells = "".join(_cell(by[w].get(col) if w in by else None, nd) for w in cols)
        body.append(f"<tr><td>{_e(label)}</td>{cells}<td>{_e(target)}</td></tr>")
    return (f'<table class="cgm"><tr><th>CGM metric</th>{head}<th>consensus target</th></tr>'
            f'{"".join(body)}</table>')


def _window_label(row: dict | None, name: str) -> str:
    if row is None:
        return name.replace("_", " ")
    return f"{name.replace('_', ' ')} (d {row['start_day']} to {row['end_day']})"


def _safety_section(data: dict) -> str:
    t: TrialInfo = data["trial"]
    ae = data["endpoints.adverse_events_by_term"]
    group = None
    if ae is not None and "preferred_term" in ae.columns:
        group = ae["preferred_term"] == "(any)"
    disp = data["endpoints.disposition"]
    total = None
    if disp is not None and "site_id" in disp.columns:
        total = disp["site_id"] == "(all)"
    return "\n".join([
        '<section id="safety"><h2>Safety</h2>',
        "<h4>Adverse events by system organ class and preferred term (MedDRA)</h4>",
        '<p class="note">Rows “(any)” are the totals of the system organ class.</p>',
        _html_table(ae, "endpoints.adverse_events_by_term", t, group_rows=group),
        "<h4>Severe hypoglycaemic events (ADA level 3) after infusion</h4>",
        _html_table(_after_infusion(data["endpoints.she_listing"], t),
                    "endpoints.she_listing", t, empty="none after infusion"),
        "<h4>Neutropenia (CTCAE v5 grade from the ANC nadir)</h4>",
        _html_table(data["endpoints.neutropenia"], "endpoints.neutropenia", t),
        "<h4>Deaths</h4>",
        _html_table(data["endpoints.deaths"], "endpoints.deaths", t, empty="no deaths"),
        "<h4>Prohibited medications on the medication form from the infusion day on "
        f"(protocol deviations): {_e(t.prohibited_reason)}</h4>",
        _html_table(data["endpoints.prohibited_medications"],
                    "endpoints.prohibited_medications", t, empty="none recorded"),
        "</section>",
        '<section id="disposition"><h2>Disposition</h2>',
        _html_table(disp, "endpoints.disposition", t, group_rows=total),
        "</section>",
    ])


def _after_infusion(she: pl.DataFrame | None, t: TrialInfo) -> pl.DataFrame | None:
    """Events on or after the infusion day (study day >= 0 in the day0 convention, >= 1 in
    day1)."""
    if she is None or "study_day" not in she.columns:
        return she
    return she.filter(pl.col("study_day") >= t.infusion_day)


def _methods_section(t: TrialInfo) -> str:
    names = ", ".join(f"{w['window'].replace('_', ' ')} (days {w['start_day']} to "
                      f"{w['end_day']})" for w in t.windows.iter_rows(named=True))
    if t.infusion_day == 1:
        study_day = ("Study day = calendar date − infusion date + 1 from the infusion day on, "
                     "calendar date − infusion date before it (day 1 = infusion day, no day 0; "
                     "CDISC SDTM; local date of the device clock for CGM readings).")
    else:
        study_day = ("Study day = calendar date − infusion date (day 0 = infusion day; local "
                     "date of the device clock for CGM readings).")
    conv = "; ".join(f"{u} converted: % = {f:g} × {u} + {a:g}" if a
                     else f"{u} converted: % = {f:g} × {u}" for u, f, a in t.hba1c_conversions)
    items = [
        study_day,
        f"CGM analysis windows: {names}.",
        "Ambulatory glucose profile: all days of the window overlaid on one 24-hour local "
        f"clock; 5th, 25th, 50th, 75th and 95th percentile of glucose per {AGP_BIN_MINUTES}-"
        "minute bin (linear interpolation between order statistics, Hyndman–Fan type 7; no "
        "smoothing). Bergenstal RM et al., Diabetes Technol Ther 2013;15:198–211.",
        "Time in ranges, CV, GMI, % CGM active and sufficiency (≥ 14 days and ≥ 70 % of "
        "expected readings): International Consensus on Time in Range, Battelino T et al., "
        "“Clinical Targets for Continuous Glucose Monitoring Data Interpretation”, Diabetes "
        "Care 2019;42:1593–1603. Percentages are of current sensor readings in the window "
        "(Libre scans and superseded re-export values left out); sensor “Low”/“High” count "
        "as 40 / 400 mg/dL.",
        "HbA1c in NGSP %" + (f" ({conv})" if conv else "") + ". Reference lines: "
        f"{_num(t.hba1c_below_pct)} % (primary endpoint) and {_num(t.igls_optimal_max_pct)} % "
        "(Igls “optimal”).",
        "Insulin: total daily dose from the insulin diary (U/day); U/kg/day uses the weight "
        "at enrolment.",
    ]
    lis = "".join(f"<li>{_e(i)}</li>" for i in items)
    return (f'<section id="methods"><h2>Methods and sources</h2><ul class="note">{lis}</ul>'
            "</section>")


# --- tables ----------------------------------------------------------------------------------

_LABELS = {
    "participant_id": "participant", "site_id": "site", "dose_group": "dose",
    "base_u_kg": "insulin baseline (U/kg/day)",
    "cpep_baseline": "C-peptide baseline (pmol/L)",
    "insulin_pct_of_baseline": "insulin (% of baseline)",
    "nadir_anc_per_mm3": "ANC nadir (/mm³)", "nadir_day": "nadir day",
    "neutropenia_ae": "neutropenia AE", "worst_grade": "worst grade (CTCAE)",
    "glycaemic_met": "HbA1c condition met", "glycaemic_day": "HbA1c met on day",
    "efficacy_population": "efficacy population", "primary_met": "primary met",
    "igls_status": "Igls status", "hba1c_pct": "HbA1c (%)",
    "treatment_success": "treatment success (optimal or good)",
    "fatal_ae_terms": "fatal AE terms",
    "fatal_ae_soc": "fatal AE system organ class", "source_file_id": "source file",
    "source_row": "source row", "start_day": "start day",
}
_HIDE = {"endpoints.prohibited_medications": ("deviation",)}


def _label(col: str, labels: dict[str, str]) -> str:
    """A column's header: ``labels`` (the trial's own wording,
    :meth:`TrialInfo.column_labels`, and :data:`_LABELS`), else the name with its unit suffix
    spelt out."""
    if col in labels:
        return labels[col]
    for suffix, unit in (("_pct", " (%)"), ("_mg_dl", " (mg/dL)"), ("_u_kg_day", " (U/kg/day)"),
                         ("_u_day", " (U/day)"), ("_pp", " (points)")):
        if col.endswith(suffix):
            return _label(col[: -len(suffix)], labels) + unit
    return col.replace("_", " ")


def _html_table(df: pl.DataFrame | None, source: str, t: TrialInfo, empty: str = "no rows",
                group_rows: pl.Series | None = None) -> str:
    if df is None:
        return f'<p class="missing">not in this warehouse ({_e(source)})</p>'
    if df.height == 0:
        return f'<p class="note">{_e(empty)}</p>'
    df = df.drop([c for c in _HIDE.get(source, ()) if c in df.columns])
    dose_cols = {c for c in df.columns if c in ("dose_group", "dose")}
    labels = t.column_labels() | _LABELS
    head = "".join(f"<th>{_e(_label(c, labels))}</th>" for c in df.columns)
    rows = []
    flags = group_rows.to_list() if group_rows is not None else [False] * df.height
    for flag, row in zip(flags, df.iter_rows(named=True)):
        cells = "".join(
            f"<td>{_e(t.arm_label(v) if v is not None else '–')}</td>" if c in dose_cols
            else _cell(v, _digits(c)) for c, v in row.items())
        rows.append(f'<tr class="group">{cells}</tr>' if flag else f"<tr>{cells}</tr>")
    return f'<div class="wide"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def _digits(col: str) -> int:
    """Decimals shown: U/kg/day 2; mg/dL, cells/mm³ and pmol/L whole numbers; else 1."""
    if col.endswith(("_u_kg", "_u_kg_day")):
        return 2
    if col.endswith(("_mg_dl", "_per_mm3")) or col.startswith("cpep"):
        return 0
    return 1


def _cell(v: object, ndigits: int = 1) -> str:
    if v is None:
        return "<td>–</td>"
    if isinstance(v, bool):
        return f"<td>{'yes' if v else 'no'}</td>"
    if isinstance(v, float):
        return f'<td class="num">{v:.{ndigits}f}</td>'
    if isinstance(v, int):
        return f'<td class="num">{v}</td>'
    text = _fmt(v)
    return f'<td class="text">{_e(text)}</td>' if len(text) > 40 else f"<td>{_e(text)}</td>"


def _fmt(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _e(v: object) -> str:
    return html.escape(str(v), quote=True)


def _anchor(pid: str) -> str:
    return "p-" + "".join(ch if ch.isalnum() else "-" for ch in pid)


def _rows(df: pl.DataFrame | None, pid: str) -> pl.DataFrame | None:
    if df is None or "participant_id" not in df.columns:
        return None
    return df.filter(pl.col("participant_id") == pid)


# --- figures ---------------------------------------------------------------------------------

def _figure_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _participant_figure(data: dict, pid: str, shown: dict | None, agp: pl.DataFrame | None,
                        cgm: pl.DataFrame | None) -> Figure:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=FIGSIZE)
        for name, rect in PANELS.items():
            fig.add_axes(rect, label=name)
        ax = {a.get_label(): a for a in fig.axes}
        t: TrialInfo = data["trial"]
        _agp_panel(ax["agp"], agp, shown, t)
        _tir_panel(ax["tir"], cgm, _compared_windows(t, shown))
        days = _day_range(data, pid)
        _hba1c_panel(ax["hba1c"], _rows(data["endpoints.hba1c"], pid), days, t)
        _insulin_panel(ax["insulin"], data, pid, days)
        _mark_events(ax["hba1c"], data, pid, days, she=True)
        _mark_events(ax["insulin"], data, pid, days, she=False)
    return fig


def _agp_panel(ax, agp: pl.DataFrame | None, shown: dict | None, t: TrialInfo) -> None:
    ax.axhspan(70, 180, color="#43a047", alpha=0.10, lw=0, zorder=0)
    for y, colour, style in ((54, "#8b1a1a", "--"), (70, "#43a047", "-"), (180, "#43a047", "-"),
                             (250, "#ef6c00", "--")):
        ax.axhline(y, color=colour, ls=style, lw=1.0, zorder=1)
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    ax.set_ylim(40, 400)
    ax.set_yticks([54, 70, 100, 140, 180, 250, 300, 350, 400])
    ax.set_xlabel("time of day (local)")
    ax.set_ylabel("glucose (mg/dL)")
    ax.grid(axis="x", color="#dddddd", lw=0.6)
    if shown is None or agp is None:
        ax.set_title("Ambulatory glucose profile: no CGM readings in a follow-up window",
                     loc="left")
        ax.text(12, 320, "no CGM readings", ha="center", color="#8b1a1a")
        return
    cur = _closed_curve(agp.filter(pl.col("window") == shown["window"]))
    w = f"days {shown['start_day']} to {shown['end_day']}"
    h = cur["hour"]
    ax.fill_between(h, cur["p05_mg_dl"], cur["p95_mg_dl"], color="#90b4d8", alpha=0.55, lw=0,
                    label="5–95 %", zorder=2)
    ax.fill_between(h, cur["p25_mg_dl"], cur["p75_mg_dl"], color="#2f6ea8", alpha=0.65, lw=0,
                    label="25–75 %", zorder=3)
    ax.plot(h, cur["p50_mg_dl"], color="#0b2545", lw=2.0, label=f"median ({w})", zorder=4)
    bw = t.baseline_window
    base = agp.filter(pl.col("window") == bw["window"]) if bw else agp.clear()
    if base.height:
        b = _closed_curve(base)
        ax.plot(b["hour"], b["p50_mg_dl"], color="#333333", lw=1.5, ls=(0, (5, 3)), zorder=5,
                label=f"baseline median (days {bw['start_day']} to {bw['end_day']})")
    name = shown["window"].replace("_", " ")
    title = f"Ambulatory glucose profile, {name} window ({w})"
    if shown["fallback"]:
        title = (f"AGP, {name} window ({w}): none in the "
                 f"{_words(t.summary_window)} window, latest shown")
    ax.set_title(title, loc="left")
    handles, labels = ax.get_legend_handles_labels()
    handles += [Patch(facecolor="#d9ecd9", edgecolor="#43a047", lw=1.0),
                Line2D([], [], color="#8b1a1a", ls="--", lw=1.0),
                Line2D([], [], color="#ef6c00", ls="--", lw=1.0)]
    labels += ["target 70–180 mg/dL", "54 mg/dL", "250 mg/dL"]
    # below the axes, where no curve can hide it
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.0, -0.15), ncol=4,
              fontsize=8.5, handlelength=2.2, columnspacing=1.2)


def _closed_curve(agp: pl.DataFrame) -> pl.DataFrame:
    """Percentiles at bin centres, in hours, wrapped one bin past 0 and 24 h so the profile
    runs through midnight instead of stopping half a bin short of each edge."""
    c = agp.sort("bin_start_min").with_columns(
        hour=(pl.col("bin_start_min") + AGP_BIN_MINUTES / 2) / 60.0)
    if c.height == 0:
        return c
    first, last = c.head(1), c.tail(1)
    return pl.concat([last.with_columns(hour=pl.col("hour") - 24.0), c,
                      first.with_columns(hour=pl.col("hour") + 24.0)])


def _tir_panel(ax, cgm: pl.DataFrame | None, cols: list[str]) -> None:
    ax.set_title("Time in ranges", loc="left")
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of readings")
    ax.spines["bottom"].set_visible(False)
    by = {r["window"]: r for r in cgm.iter_rows(named=True)} if cgm is not None else {}
    xlabels = []
    for x, w in enumerate(cols):
        r = by.get(w)
        xlabels.append(w.replace("_", " "))
        if r is None or not r["n_readings"]:
            ax.text(x, 50, "no\nreadings", ha="center", va="center", fontsize=8,
                    color="#8b1a1a")
            continue
        parts = _tir_parts(r)
        bottom = 0.0
        for (label, colour, _), v in zip(TIR_RANGES, parts):
            ax.bar(x, v, bottom=bottom, color=colour, width=0.62, edgecolor="white", lw=0.5,
                   label=label if x == 0 or not ax.get_legend_handles_labels()[0] else None)
            if v >= 4.0:
                ax.text(x, bottom + v / 2, f"{v:.0f} %", ha="center", va="center",
                        fontsize=8, color="white" if colour != "#fbc02d" else "black")
            bottom += v
    ax.set_xticks(range(len(cols)), xlabels)
    ax.set_xlim(-0.6, len(cols) - 0.4)
    handles = [Patch(color=c) for _, c, _ in TIR_RANGES]
    labels = [f"{lab}: target {target}" for lab, _, target in TIR_RANGES]
    ax.legend(handles[::-1], labels[::-1], loc="upper center", bbox_to_anchor=(0.45, -0.11),
              fontsize=8, handlelength=1.0, title="consensus targets", title_fontsize=8)


def _tir_parts(r: dict) -> list[float]:
    """Percent of readings per range (< 54, 54-69, 70-180, 181-250, > 250) from the
    cumulative consensus columns of endpoints.cgm_metrics."""
    return [r["tbr54_pct"], r["tbr70_pct"] - r["tbr54_pct"], r["tir_pct"],
            r["tar180_pct"] - r["tar250_pct"], r["tar250_pct"]]


def _day_range(data: dict, pid: str) -> tuple[float, float]:
    """x-range of the trajectory panels: the schedule's (:attr:`TrialInfo.day_axis`),
    widened to 10 days beyond the participant's HbA1c results and diary days."""
    lo, hi = data["trial"].day_axis
    for name, col in (("endpoints.hba1c", "study_day"), ("_diary", "study_day")):
        df = _diary(data, pid) if name == "_diary" else _rows(data[name], pid)
        if df is not None and df.height and df[col].drop_nulls().len():
            lo, hi = min(lo, df[col].min() - 10), max(hi, df[col].max() + 10)
    return lo, hi


def _shade_days(ax, days: tuple[float, float], span: tuple[int, int], label: str,
                infusion_day: int) -> None:
    """Shade the endpoint's days ``span``, named ``label`` above the panel; dotted line on
    the infusion day."""
    ax.axvspan(*span, color="#2c5d8f", alpha=0.07, lw=0, zorder=0)
    ax.text((span[0] + span[1]) / 2, 1.0, label, transform=ax.get_xaxis_transform(),
            ha="center", va="bottom", fontsize=7.5, color="#2c5d8f")
    ax.axvline(infusion_day, color="#777777", lw=0.8, ls=":")
    ax.set_xlim(*days)
    ax.set_xlabel(f"study day (day {infusion_day} = infusion)")
    ax.grid(axis="y", color="#e5e5e5", lw=0.6)


def _mark_events(ax, data: dict, pid: str, days: tuple[float, float], she: bool) -> None:
    """Death (both panels) and severe hypoglycaemic events after infusion (``she``), named in
    the panel's legend (boxed, so a line through it cannot hide the words)."""
    d = _rows(data["endpoints.deaths"], pid)
    if d is not None and d.height and d["study_day"][0] is not None:
        day = d["study_day"][0]
        ax.axvline(day, color="#000000", lw=1.3, label=f"died (day {day})")
    events = (_after_infusion(_rows(data["endpoints.she_listing"], pid), data["trial"])
              if she else None)
    if events is not None and events.height:
        x = [v for v in events["study_day"].to_list() if days[0] <= v <= days[1]]
        ax.plot(x, [0.03] * len(x), ls="none", marker="v", ms=8, color="#c62828",
                transform=ax.get_xaxis_transform(), clip_on=False,
                label="severe hypoglycaemia (level 3)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8, frameon=True, facecolor="white",
                  edgecolor="none", framealpha=0.92)


def _hba1c_panel(ax, h: pl.DataFrame | None, days: tuple[float, float], t: TrialInfo) -> None:
    """HbA1c by study day, with the primary endpoint's threshold (red) and the Igls
    "optimal" maximum (green) as dashed lines."""
    ax.set_title("HbA1c", loc="left", pad=14)
    _shade_days(ax, days, t.hba1c_days, f"primary endpoint: HbA1c days {_span(t.hba1c_days)}",
                t.infusion_day)
    ax.set_ylabel("HbA1c (%, NGSP)")
    target, optimal = t.hba1c_below_pct, t.igls_optimal_max_pct
    ax.axhline(target, color="#c62828", lw=1.0, ls="--")
    ax.axhline(optimal, color="#2e7d32", lw=1.0, ls="--")
    if h is None or h.height == 0:
        ax.set_ylim(5, 10)
        ax.text(sum(days) / 2, 8.5, "no HbA1c results", ha="center", color="#8b1a1a")
    else:
        h = h.sort("study_day")
        x, y = h["study_day"].to_list(), h["hba1c_pct"].to_list()
        ax.plot(x, y, color="#0b2545", marker="o", ms=4.5, lw=1.6)
        for xi, yi in zip(x, y):
            ax.annotate(f"{yi:.1f}", (xi, yi), xytext=(0, 6), textcoords="offset points",
                        ha="center", fontsize=7.5)
        lo = min(min(y), min(target, optimal) - 0.5) - 0.4
        hi = max(max(y), max(target, optimal) + 0.5) + 0.6
        ax.set_ylim(lo, hi)
    for v, colour in ((target, "#c62828"), (optimal, "#2e7d32")):
        ax.annotate(f"{_num(v)} %", (1.0, v), xycoords=("axes fraction", "data"),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=8,
                    color=colour)


def _diary(data: dict, pid: str) -> pl.DataFrame | None:
    d, inf = _rows(data["core.insulin_diary"], pid), data["core.infusions"]
    if d is None or inf is None:
        return None
    return with_study_day(d, inf, "diary_date").sort("study_day")


def _insulin_panel(ax, data: dict, pid: str, days: tuple[float, float]) -> None:
    t: TrialInfo = data["trial"]
    ax.set_title("Insulin (diary, total daily dose)", loc="left", pad=14)
    _shade_days(ax, days, t.insulin_days, f"insulin independence: days {_span(t.insulin_days)}",
                t.infusion_day)
    ax.set_ylabel("insulin (U/day)")
    d = _diary(data, pid)
    if d is None or d.height == 0:
        ax.set_ylim(0, 60)
        ax.text(sum(days) / 2, 30, "no insulin diary", ha="center", color="#8b1a1a")
        return
    # a gap in the diary (a missing day) is a gap in the line, not a straight bridge
    full = pl.DataFrame({"study_day": pl.int_range(d["study_day"].min(), d["study_day"].max()
                                                   + 1, eager=True).cast(pl.Int32)})
    d = full.join(d, on="study_day", how="left")
    x, y = d["study_day"].to_numpy(), d["total_daily_dose_u"].to_numpy()
    ax.plot(x, y, color="#5b7fa6", lw=0.9, label="daily dose")
    wk = d["total_daily_dose_u"].rolling_mean(7, min_samples=4, center=True).to_numpy()
    ax.plot(x, wk, color="#0b2545", lw=1.8, label="7-day mean")
    ind = _rows(data["endpoints.insulin_independence"], pid)
    if ind is not None and ind.height and ind["baseline_dose_u_day"][0] is not None:
        b = ind["baseline_dose_u_day"][0]
        ax.axhline(b, color="#333333", lw=1.2, ls=(0, (5, 3)),
                   label=f"baseline mean {b:.0f} U/day")
    top = max(float(d["total_daily_dose_u"].max() or 0.0), 1.0)
    ax.set_ylim(0, top * 1.15)
    p = _rows(data["core.participants"], pid)
    w = p["weight_kg"][0] if p is not None and p.height else None
    if w:
        sec = ax.secondary_yaxis("right", functions=(lambda u: u / w, lambda k: k * w))
        sec.set_ylabel(f"U/kg/day (weight {w:.0f} kg)")

