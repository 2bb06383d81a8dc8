"""A sample trial's participants N times over, for benchmarking (bench/scale.py,
``generate_trial(..., scale=N)``).

Copy ``c`` (0 .. N-1) of a participant keeps its profile (dose, course, events, device, site)
under a new participant ID: the site's prefix and the number ``n + c x span``, where ``n`` is
the profile's number and ``span`` the range of the numbers of that site's profiles (largest -
smallest + 1), written with at least the number's digits. ISLET-101: US01-001..US01-004 in
copy 0, US01-005..US01-008 in copy 1, ...; at 100 copies US01 and CA01 reach -400, DE01 and
GB01 -300, all within the trial's ``participant_id_pattern`` (``^[A-Z]{2}\\d{2}-\\d{3}$``);
every new ID is checked against that pattern. Copy 0 is the plan's participants under their
own IDs, so the plan's special cases (a corrected CGM re-export, a Libre Pro report, a
corrected lab result), which name participant IDs, stand once, as in the sample trial.

When the copies are infused: :meth:`DemoPlan.infusion_date` (copy ``c`` of the ``j``-th
profile ``c mod infusion_every_days`` days after the sample's ``j``-th), so the copies spread
over the sample trial's calendar: a site sends about as many weekly exports as in the sample
trial, each with N times the records. A scaled plan plants no faults.

:func:`tail_export` writes a later CGM export of what a device already exported (its last
days), the new file of a benchmark's "next night".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from isletflow.demo.plans import DemoPlan
from isletflow.demo.profiles import site_of
from isletflow.trial import Trial


def _split(pid: str) -> tuple[str, str]:
    """A participant ID as (prefix, trailing number): "US01-003" -> ("US01-", "003")."""
    m = re.fullmatch(r"(.*?)(\d+)", pid)
    if m is None:
        raise ValueError(f"participant ID {pid!r} does not end in a number")
    return m.group(1), m.group(2)


def scaled_ids(ids: list[str], copies: int) -> list[list[str]]:
    """The participant IDs of each copy (``[copy][position in ids]``), by the rule of the
    module docstring; copy 0 is ``ids`` itself."""
    numbers: dict[str, list[int]] = {}
    for pid in ids:
        numbers.setdefault(site_of(pid), []).append(int(_split(pid)[1]))
    span = {site: max(ns) - min(ns) + 1 for site, ns in numbers.items()}
    out = []
    for c in range(copies):
        row = []
        for pid in ids:
            prefix, digits = _split(pid)
            row.append(f"{prefix}{int(digits) + c * span[site_of(pid)]:0{len(digits)}d}")
        out.append(row)
    return out


def scaled_plan(plan: DemoPlan, copies: int, trial: Trial) -> DemoPlan:
    """``plan`` with its profiles ``copies`` times over (copy-major: every profile of copy 0,
    then of copy 1, ...) and no planted faults. Raises ValueError if a new ID does not match
    the trial's participant-ID pattern (too many copies for the IDs' digits)."""
    if copies < 1:
        raise ValueError("scale must be at least 1")
    if plan.copies != 1:
        raise ValueError(f"plan {plan.study_id} is already scaled")
    ids = scaled_ids([p.participant_id for p in plan.profiles], copies)
    pattern = re.compile(trial.study.participant_id_pattern)
    bad = [pid for row in ids for pid in row if not pattern.search(pid)]
    if bad:
        raise ValueError(f"scale {copies}: participant ID {bad[0]} does not match the trial's "
                         f"participant_id_pattern {trial.study.participant_id_pattern!r} "
                         f"({len(bad)} such IDs); use fewer copies")
    if len({pid for row in ids for pid in row}) != copies * len(plan.profiles):
        raise ValueError(f"scale {copies}: the copies' participant IDs are not unique")
    profiles = tuple(dataclasses.replace(p, participant_id=row[j])
                     for row in ids for j, p in enumerate(plan.profiles))
    return dataclasses.replace(plan, profiles=profiles, copies=copies, plant_faults=False)


def tail_export(text: str, device: str, sep: str, libre_format: str, days: int,
                generated: dt.datetime) -> str:
    """A CGM export of the last ``days`` local days of ``text`` (an export the generator
    wrote: Dexcom Clarity or LibreView, isletflow/demo/cgm.py), as the device exports them:
    Clarity: the header, the rows without a timestamp (patient and device information,
    alerts) and the timestamped rows of those days, ``Index`` renumbered from 1; LibreView:
    the title line (its "Generated on" time ``generated``), the header and the rows of those
    days. Rows are in time order in both, so the last ``days`` days are a tail of the file."""
    bom = text.startswith("\ufeff")
    lines = text.removeprefix("\ufeff").split("\r\n")
    if lines and lines[-1] == "":
        lines.pop()
    if device == "clarity":
        head = 1 + next(i for i, ln in enumerate(lines[1:]) if ln.split(sep, 2)[1])
        last = dt.date.fromisoformat(lines[-1].split(sep, 2)[1][:10])
        first = (last - dt.timedelta(days=days - 1)).isoformat()
        cut = len(lines)
        while cut > head and lines[cut - 1].split(sep, 2)[1][:10] >= first:
            cut -= 1
        rows = [*lines[1:head], *lines[cut:]]
        rows = [f"{i}{sep}{ln.split(sep, 1)[1]}" for i, ln in enumerate(rows, start=1)]
        out = [lines[0], *rows]
    else:
        def local(ln: str) -> dt.date:
            return dt.datetime.strptime(ln.split(",", 3)[2], libre_format).date()

        last = local(lines[-1])
        first_day = last - dt.timedelta(days=days - 1)
        cut = len(lines)
        while cut > 2 and local(lines[cut - 1]) >= first_day:
            cut -= 1
        title = lines[0].split(",")
        title[2] = generated.strftime(libre_format) + " UTC"
        out = [",".join(title), lines[1], *lines[cut:]]
    return ("\ufeff" if bom else "") + "\r\n".join(out) + "\r\n"
