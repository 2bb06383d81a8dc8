"""Canaries: checks that prove they can fail.

Before the night's data is validated, every contract the night runs is run on a small frame
made to break it: the pandera contract of each core table (schemas/core.py
``core_contracts``), the GX suites of CGM readings and lab results (schemas/gx_suites.py
``GX_SUITES``), the EDC suites built from the trial's REDCap data dictionary
(schemas/redcap_suites.py ``suites_from_dictionary``) and the key-uniqueness schema of each
core table (schemas/keys.py ``CORE_KEYS``, ``quality.key_violations``). They are run by the
functions the night uses (``quality.pandera_issues``, ``quality.gx_issues``,
``redcap_suites.edc_issues``, ``quality.key_violations``), so a weakened runner is caught
too (e.g. pandera on a polars LazyFrame, which checks only the schema).

Each canary frame has one valid row, which must pass, and one row per rule that breaks that
rule and no other (two rows for a rule with a lower and an upper bound: one below, one
above).

**Committed canaries.** Rows built from the rules at run time would follow a loosened rule
(glucose <= 500 changed to <= 5000 moves its canary to 5000.000000000001, which the loosened
check still flags: nothing would fail), so the rows of the rules the code declares are a
committed reference, ``schemas/canaries/<core table>.json``: per contract the column types,
the valid row, and per check its label with its parameters as written (``glucose_mg_dl
less_than_or_equal_to(500)``), the values that break it (as changes to the valid row) and the
(column, rule) the runner must report for it. :func:`write_canaries` (``isletflow canary
--write``) writes them from the builder below; a change to them is a reviewed change, whose
diff shows which rule moved. Values round-trip exactly: floats are JSON numbers in Python's
shortest repr (exact for float64: 500.00000000000006), dates and times ISO 8601 text read
back by the column's committed type. Each night (:func:`run_committed`) the committed rows are
run by the night's runner: each breaking row must be reported with the (column, rule) it
names, the valid row with none, and every check declared tonight (built again, as below) must
have a committed row: a new or changed check without one fails ("has no committed canary
row"), so a loosened check fails twice (its committed row passes, its new parameters have no
row), a deleted one once (its row passes).

The level enforced is the (column, rule) pair the runner reports, the one the night's
quarantine and issue listings use: for pandera the rule is the check with its parameters
(``pandera:less_than_or_equal_to(500)``), so the row must be flagged by exactly the check it
names (a row flagged by another check of its column says so: "did not flag the row ...,
flagged by ... instead"); GX issues carry the expectation type and column, not the
expectation's parameters or row condition, so a GX row must be flagged on its column by an
expectation of its type: the builder made it break only that expectation of the suite (the
lab ranges: its analyte's row condition), and the check of tonight's labels against the
committed ones catches a changed parameter. Key schemas: the two rows sharing a key must be
reported, the third not.

What is **not committed** is built each night, as before: the frame-wide rules (each column's
dtype, each required column, ``strict``: empty frames, nothing to commit) and what the trial
file sets: the checks ``schemas.core.core_contracts`` adds from it (participant id pattern,
sites, eligible ages, arms; :func:`from_trial`; the committed file lists them by their label
without the trial's values, ``site_id isin(<from the trial file>)``, so a check dropped from
core_contracts still fails), their rows, the valid row's values of their columns, and the EDC
suites, made from the trial's REDCap dictionary. The trial file and its dictionary are data,
checked on their own (``isletflow check-trial``, the dictionary reader), and one committed
file serves every trial (the files written for islet-101 and islet-301 are the same).

A rule is found by introspection, so the built canaries follow the rules as they change:

* pandera column checks (``Check.name`` and ``Check.statistics``): ``greater_than``,
  ``greater_than_or_equal_to``, ``less_than``, ``less_than_or_equal_to``, ``in_range``,
  ``equal_to``, ``not_equal_to``, ``isin``, ``notin``, ``str_matches``, ``str_length``, and
  ``nullable=False``; the frame-wide rules (each column's dtype, each required column, and
  ``strict``: no other column) are broken by two empty frames, one with every column of
  another dtype plus an unknown column, one with no column of the contract;
* GX expectations (the configuration's kwargs): ``expect_column_values_to_be_between``
  (``min_value``/``max_value``, ``strict_min``/``strict_max``, a ``row_condition`` of the
  form ``Column(c) == v``), ``..._to_not_be_null``, ``..._to_be_in_set``,
  ``..._to_match_regex``, ``..._to_match_strftime_format``; for the EDC suites also the
  typed range of a validated text field and the "at least one box ticked" of a required
  checkbox (their ``meta``, schemas/redcap_suites.py);
* key schemas: two rows with one key, a third with another.

A value that breaks a rule is the valid value moved just past the bound (the next
representable number, a day, one microsecond), a value outside the allowed set, or the
valid text with one character deleted, replaced or added (first that breaks the rule and
keeps every other rule of the row). A rule the builder does not know (a custom check, a
``mostly`` below 1, a dataframe-wide check, ``unique`` or ``coerce`` columns, another
operator in a row condition) is a :class:`CanaryBuildError` naming it, so a new rule cannot
go untested silently; a custom pandera check can be given a hand-written valid and breaking
value in :data:`HAND_WRITTEN` (by check name).

A breaking row that the runner lets pass, a valid row it fails, or a check without a
committed row is a :class:`CanaryError` with a line each, naming the contract and the check
(``canary: core.fingerstick_glucose pandera check 'glucose_mg_dl less_than_or_equal_to(500)'
passed a row that breaks it (glucose_mg_dl = 500.00000000000006)``). The values are made up
(no participant data ever enters a canary or its messages).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import re._constants as sre_c
import re._parser as sre_parse
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl

from isletflow.config import PROJECT_ROOT
from isletflow.quality import ContractError, gx_issues, key_violations, pandera_issues

# Hand-written canary values of custom pandera checks, by check name: (a value that passes,
# a value that breaks it). The builder knows the built-in checks; a custom check without an
# entry here is a CanaryBuildError.
HAND_WRITTEN: dict[str, tuple[Any, Any]] = {}

LINEAGE = ("source_file_id", "source_row")
EXTRA_COLUMN = "canary_unknown_column"
_FILE_ID = "canary0000000000"  # a 16-character file id of the canary frames (EDC rows)
_BASE_DATE = dt.date(2024, 1, 2)
_BASE_DATETIME = dt.datetime(2024, 1, 2, 3, 4, 5)


class CanaryError(RuntimeError):
    """A check no longer fires on a row that breaks it, or fails the row that keeps it."""


class CanaryBuildError(ValueError):
    """The canary builder cannot make a row that breaks a rule (a rule type it does not know,
    or rules that cannot be kept and broken one at a time)."""


@dataclass
class Rule:
    """One rule of a contract, as the canary builder sees it.

    ``holds(row)`` says whether a row (dict column -> value) keeps the rule where it applies
    (``when``); ``valid`` are partial rows that keep it, ``breaks`` one list per canary row of
    partial rows that break it (the first that breaks only this rule is used); ``condition``
    the values that make ``when`` true; ``group`` is shared by the two sides of one check
    (a row breaking one side may not keep the check as a whole); with ``mutate``, the valid
    row's text one edit away is tried after ``breaks``. ``expect`` is the issue the runner
    reports for a breaking row: (column_name, rule)."""

    label: str
    columns: tuple[str, ...]
    holds: Callable[[dict], bool]
    expect: tuple[str, str]
    valid: list[dict] = field(default_factory=list)
    breaks: list[list[dict]] = field(default_factory=list)
    when: Callable[[dict], bool] = lambda row: True
    condition: dict = field(default_factory=dict)
    group: object = None  # the two sides of one bounded check (one check, two rows)
    mutate: bool = False  # also try the valid row's text with one edit (``mutations``)

    def kept(self, row: dict) -> bool:
        return not self.when(row) or self.holds(row)


@dataclass
class CanaryRow:
    key: tuple                    # (source_file_id, source_row) as the runner reports it
    rule: Rule | None             # None: the valid row
    shown: str                    # the breaking value, as the message shows it
    also: frozenset = frozenset()  # other issues the row cannot help causing (build_rows)


@dataclass
class Canary:
    """A contract's canary: its frame and the rows, and how the night runs the contract."""

    name: str                     # e.g. "core.cgm_readings pandera"
    frame: pl.DataFrame
    rows: list[CanaryRow]
    run: Callable[[pl.DataFrame], pl.DataFrame]   # the night's runner: frame -> issues
    whole: list[tuple[str, pl.DataFrame, list[tuple[str, str]]]] = field(default_factory=list)
    # (frame-wide canaries: label, frame, [(check label, text the ContractError must name)])
    table: str = ""               # the core table (the committed file's name); "" for EDC

    @property
    def kind(self) -> str:
        """What its messages call a rule: a pandera check, a GX expectation, a key schema."""
        if self.name.endswith(" key"):
            return "schema"
        return "check" if self.name.endswith(" pandera") else "expectation"


@dataclass
class CanaryResult:
    name: str
    rows: int                     # canary rows run (the valid one included)
    whole: int                    # frame-wide rules broken by empty frames
    failures: list[str]           # checks that did not fire, valid rows that failed
    extra: list[str]              # breaking rows that also failed another check
    seconds: float
    committed: int = 0            # of the rows, those read from the committed file


# ---------------------------------------------------------------------------------------
# values


def regex_example(pattern: str) -> str:
    """A short string that ``re.search(pattern, ...)`` matches, built from the parsed
    pattern (each repeat at its minimum count, a class's first printable member, a
    branch's first alternative); a CanaryBuildError for constructs it does not know
    (look-arounds, back references)."""
    def one_of(items) -> str:
        negate = items and items[0][0] is sre_c.NEGATE
        for ch in "a0A1bB-_ .:/@x" + string.printable:
            if _in_class(items[1:] if negate else items, ch) != bool(negate):
                return ch
        raise CanaryBuildError(f"no printable character fits a class of {pattern!r}")

    def gen(items) -> str:
        out = []
        for op, av in items:
            if op is sre_c.LITERAL:
                out.append(chr(av))
            elif op is sre_c.NOT_LITERAL:
                out.append("a" if av != ord("a") else "b")
            elif op is sre_c.ANY:
                out.append("a")
            elif op is sre_c.IN:
                out.append(one_of(av))
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
                lo, _, sub = av
                out.append(gen(sub) * lo)
            elif op is sre_c.SUBPATTERN:
                out.append(gen(av[-1]))
            elif op is sre_c.ATOMIC_GROUP:
                out.append(gen(av))
            elif op is sre_c.BRANCH:
                out.append(gen(av[1][0]))
            elif op is sre_c.AT:
                continue
            else:
                raise CanaryBuildError(f"the canary builder cannot make a value matching "
                                       f"{pattern!r} ({op})")
        return "".join(out)

    text = gen(sre_parse.parse(pattern).data)
    if not re.search(pattern, text):
        raise CanaryBuildError(f"the canary builder's value {text!r} does not match {pattern!r}")
    return text


def _in_class(items, ch: str) -> bool:
    o = ord(ch)
    for op, av in items:
        if op is sre_c.LITERAL and o == av or op is sre_c.RANGE and av[0] <= o <= av[1]:
            return True
        if op is sre_c.CATEGORY:
            test = {sre_c.CATEGORY_DIGIT: ch.isdigit(), sre_c.CATEGORY_NOT_DIGIT: not ch.isdigit(),
                    sre_c.CATEGORY_WORD: ch.isalnum() or ch == "_",
                    sre_c.CATEGORY_NOT_WORD: not (ch.isalnum() or ch == "_"),
                    sre_c.CATEGORY_SPACE: ch.isspace(),
                    sre_c.CATEGORY_NOT_SPACE: not ch.isspace()}.get(av)
            if test is None:
                raise CanaryBuildError(f"unknown character class category {av}")
            if test:
                return True
    return False


def mutations(text: str) -> list[str]:
    """Texts one edit away from ``text``: each character deleted, each replaced by a digit,
    ``x`` or ``~``, a character added at either end; then a few unrelated texts."""
    out = [text[:i] + text[i + 1:] for i in range(len(text))]
    out += [text[:i] + c + text[i + 1:] for i in range(len(text)) for c in "90x~"
            if c != text[i]]
    out += [text + "x", "x" + text, text + "0", "~", "canary", ""]
    return list(dict.fromkeys(o for o in out if o != text))


def _step(v, direction: int):
    """The next value after ``v`` towards ``direction`` (+1/-1): the next integer, the
    next representable float, a day later/earlier, one microsecond."""
    if isinstance(v, bool):
        raise CanaryBuildError("no ordering canary for a boolean")
    if isinstance(v, int):
        return v + direction
    if isinstance(v, float):
        return math.nextafter(v, direction * math.inf)
    if isinstance(v, dt.datetime):
        return v + direction * dt.timedelta(microseconds=1)
    if isinstance(v, dt.date):
        return v + direction * dt.timedelta(days=1)
    raise CanaryBuildError(f"no ordering canary for {type(v).__name__} values")


def _plus(v, n: int):
    """``v`` moved by ``n`` units (integers and floats: n; dates: n days; times: n s)."""
    if isinstance(v, dt.datetime):
        return v + dt.timedelta(seconds=n)
    if isinstance(v, dt.date):
        return v + dt.timedelta(days=n)
    return v + n


def _between(lo, hi):
    if isinstance(lo, dt.date):
        return lo + (hi - lo) / 2 if isinstance(lo, dt.datetime) else lo + (hi - lo) // 2
    if isinstance(lo, int) and isinstance(hi, int):
        return (lo + hi) // 2
    return lo + (hi - lo) / 2


def _inside(lo, hi) -> list:
    """Values inside bounds (either may be None)."""
    if lo is not None and hi is not None:
        return [_between(lo, hi), lo, hi]
    if lo is not None:
        return [_plus(lo, 1), _step(lo, 1), lo]
    return [_plus(hi, -1), _step(hi, -1), hi]


def _cmp(v, bound) -> int | None:
    try:
        return (v > bound) - (v < bound)
    except TypeError:
        return None


def _as_type(dtype: pl.DataType):
    """Converter of a candidate to the column's Python type (None when it does not fit)."""
    if dtype.is_integer():
        return lambda v: int(v) if isinstance(v, int | float) and not isinstance(v, bool) \
            and float(v).is_integer() else None
    if dtype.is_float():
        return lambda v: float(v) if isinstance(v, int | float) and not isinstance(v, bool) \
            else None
    return lambda v: v


def _default(dtype: pl.DataType, column: str):
    if dtype == pl.String:
        return "canary"
    if dtype.is_integer():
        return 1
    if dtype.is_float():
        return 1.0
    if dtype == pl.Boolean:
        return True
    if isinstance(dtype, pl.Datetime):
        return _BASE_DATETIME
    if dtype == pl.Date:
        return _BASE_DATE
    raise CanaryBuildError(f"no canary value for column {column} of type {dtype}")


def _other_dtype(dtype: pl.DataType) -> pl.DataType:
    """A dtype the column must not have (for its dtype canary)."""
    return pl.Int64 if dtype == pl.String else pl.String


# ---------------------------------------------------------------------------------------
# rules of each kind of contract


def _value_rule(label, column, ok, expect, valid=(), breaks=(), **kw) -> Rule:
    """A rule on one column's value; null values keep it (a null is the nullable rule's)."""
    return Rule(label, (column,), lambda row: row.get(column) is None or ok(row[column]),
                expect, [{column: v} for v in valid], [[{column: v} for v in b] for b in breaks],
                **kw)


def _pandera_check_rule(check, column: str, dtype: pl.DataType, owner: str) -> list[Rule]:
    """The rules of one pandera column check (two for an interval bounded on both sides)."""
    name, s = check.name, check.statistics or {}
    label = f"{column} {check.error or name}"
    expect = (column, f"pandera:{check.error or name}")
    conv = _as_type(dtype)

    def ok(pred):
        return lambda v: bool(pred(v))

    def typed(values):
        return [c for c in (conv(v) for v in values) if c is not None]

    if name in HAND_WRITTEN:
        good, bad = HAND_WRITTEN[name]
        # an opaque check: only its hand-written values are known (the other canary rows
        # keep the passing one)
        return [_value_rule(label, column, ok(lambda v: v == good), expect, [good], [[bad]])]
    if name in ("greater_than", "greater_than_or_equal_to", "less_than",
                "less_than_or_equal_to", "in_range"):
        lo = s.get("min_value") if name in ("greater_than", "greater_than_or_equal_to",
                                            "in_range") else None
        hi = s.get("max_value") if name in ("less_than", "less_than_or_equal_to",
                                            "in_range") else None
        lo_in = name == "greater_than_or_equal_to" or s.get("include_min", True)
        hi_in = name == "less_than_or_equal_to" or s.get("include_max", True)
        lo_in, hi_in = (lo_in if name != "greater_than" else False,
                        hi_in if name != "less_than" else False)

        def keep(v, lo=lo, hi=hi, lo_in=lo_in, hi_in=hi_in):
            a = _cmp(v, lo) if lo is not None else 1
            b = _cmp(v, hi) if hi is not None else -1
            return (a is not None and b is not None and (a > 0 or a == 0 and lo_in)
                    and (b < 0 or b == 0 and hi_in))
        breaks = []
        if lo is not None:
            breaks.append(typed([lo if not lo_in else _step(conv(lo) or lo, -1),
                                 _plus(lo, -1)]))
        if hi is not None:
            breaks.append(typed([hi if not hi_in else _step(conv(hi) or hi, 1), _plus(hi, 1)]))
        group = object()
        return [_value_rule(label, column, keep, expect, typed(_inside(lo, hi)), [b],
                            group=group) for b in breaks]
    if name in ("equal_to", "not_equal_to"):
        value = s["value"]
        if name == "equal_to":
            return [_value_rule(label, column, ok(lambda v: v == value), expect, [value],
                                [typed([_plus(value, 1)]) if not isinstance(value, str)
                                 else mutations(value)])]
        return [_value_rule(label, column, ok(lambda v: v != value), expect, [], [[value]])]
    if name in ("isin", "notin"):
        values = list(s["allowed_values" if name == "isin" else "forbidden_values"])
        if name == "notin":
            return [_value_rule(label, column, ok(lambda v: v not in values), expect, [],
                                [values])]
        if dtype == pl.String:
            bad = [m for v in values for m in mutations(str(v))]
        else:
            bad = typed([_plus(max(values), 1), _plus(min(values), -1), 0])
        return [_value_rule(label, column, ok(lambda v: v in values), expect, values,
                            [[b for b in bad if b not in values]], mutate=True)]
    if name == "str_matches":
        pattern = s["pattern"]
        pattern = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
        anchored = pattern if pattern.startswith("^") else "^" + pattern
        good = regex_example(anchored)
        return [_value_rule(label, column, ok(lambda v: re.search(anchored, v)), expect,
                            [good], [mutations(good)], mutate=True)]
    if name == "str_length":
        lo = s.get("exact_value") if s.get("exact_value") is not None else s.get("min_value")
        hi = s.get("exact_value") if s.get("exact_value") is not None else s.get("max_value")

        def keep(v, lo=lo, hi=hi):
            return (lo is None or len(v) >= lo) and (hi is None or len(v) <= hi)
        n = lo if lo is not None else max(1, (hi or 1) - 1)
        good = ("canary" + "0" * n)[:n] if n >= 6 else "c" * n
        rules, group = [], object()
        if lo is not None and lo > 0:
            rules.append(_value_rule(label, column, keep, expect, [good],
                                     [[good[:-1], good[:lo - 1]]], group=group))
        if hi is not None:
            rules.append(_value_rule(label, column, keep, expect, [good],
                                     [[good + "0", good + "0" * (hi + 1 - len(good))]],
                                     group=group))
        return rules
    raise CanaryBuildError(
        f"{owner}: the canary builder does not know the pandera check {check.error or name!r} "
        f"of column {column}; teach isletflow/canary.py the rule or add a hand-written value "
        f"to isletflow.canary.HAND_WRITTEN")


def pandera_rules(schema: pa.DataFrameSchema, owner: str) -> list[Rule]:
    """The row rules of a pandera schema: each column check, and not-nullable."""
    if schema.checks:
        raise CanaryBuildError(f"{owner}: the canary builder does not know dataframe-wide "
                               f"checks ({', '.join(str(c) for c in schema.checks)})")
    if schema.unique:
        raise CanaryBuildError(f"{owner}: the canary builder does not know a dataframe-wide "
                               f"unique={schema.unique}")
    rules = []
    for column, col in schema.columns.items():
        if col.unique or col.coerce or col.regex:
            raise CanaryBuildError(f"{owner}: the canary builder does not know column "
                                   f"{column}'s unique/coerce/regex settings")
        dtype = col.dtype.type
        if not col.nullable:
            rules.append(Rule(f"{column} not_nullable", (column,),
                              lambda row, c=column: row.get(c) is not None,
                              (column, "pandera:not_nullable"), [], [[{column: None}]]))
        for check in col.checks:
            rules += _pandera_check_rule(check, column, dtype, owner)
    return rules


def _row_condition(cond, owner: str, label: str):
    """(when, condition values, text) of a GX row condition ``Column(c) == v`` (as the
    expectation configuration's ``row_condition`` kwarg holds it)."""
    if cond is None:
        return (lambda row: True), {}, ""
    cfg = cond if isinstance(cond, dict) else None
    if not (isinstance(cfg, dict) and cfg.get("type") == "comparison"
            and cfg.get("operator") == "=="):
        raise CanaryBuildError(f"{owner}: the canary builder does not know the row condition "
                               f"{cond!s} of {label}")
    column, value = cfg["column"]["name"], cfg["parameter"]
    return (lambda row: row.get(column) == value), {column: value}, f" where {column} == {value}"


def gx_rules(suite, dtypes: dict[str, pl.DataType], owner: str, *,
             derived: Callable[[dict, str], Any] | None = None) -> list[Rule]:
    """The rules of a GX suite's expectations on a frame of ``dtypes`` (EDC suites: text
    columns, with ``derived(row, column)`` the typed or checked column an expectation
    reads and ``edc_rule`` meta)."""
    rules: list[Rule] = []
    for e in suite.expectations:
        cfg = e.configuration
        kw, etype, meta = cfg.kwargs, cfg.type, cfg.meta or {}
        column = kw.get("column")
        if (kw.get("mostly") or 1) < 1:
            raise CanaryBuildError(f"{owner}: the canary builder does not know "
                                   f"mostly={kw['mostly']} ({etype} on {column})")
        when, condition, where = _row_condition(kw.get("row_condition"), owner,
                                                f"{etype} {column}")
        text_col = meta.get("column") if derived else column  # the column a canary row sets
        if derived and meta.get("rule"):
            expect = (meta.get("column") or meta["field"], meta["rule"])
        else:
            expect = (column, f"gx:{etype}")
        dtype = dtypes.get(text_col) if text_col else None
        if text_col and dtype is None and not (derived and meta.get("kind") == "checkbox_any"):
            raise CanaryBuildError(f"{owner}: column {text_col} of {etype} is not in the "
                                   f"table the suite checks")

        def read(row, c=column):
            return derived(row, c) if derived and c not in dtypes else row.get(c)
        if etype == "expect_column_values_to_be_between":
            lo, hi = kw.get("min_value"), kw.get("max_value")
            smin, smax = kw.get("strict_min", False), kw.get("strict_max", False)

            def keep(row, lo=lo, hi=hi, smin=smin, smax=smax, read=read):
                v = read(row)
                if v is None:
                    return True
                a = _cmp(v, lo) if lo is not None else 1
                b = _cmp(v, hi) if hi is not None else -1
                return (a is not None and b is not None and (a > 0 or a == 0 and not smin)
                        and (b < 0 or b == 0 and not smax))
            label = f"{column} between {lo} and {hi}{where}"
            if derived and column not in dtypes:
                fmt = _edc_formatter(meta)
                good = [fmt(v) for v in _inside(lo, hi)]
                sides = [[fmt(v) for v in (lo if smin else _step(lo, -1), _plus(lo, -1),
                                            _plus(lo, -60))] if lo is not None else None,
                         [fmt(v) for v in (hi if smax else _step(hi, 1), _plus(hi, 1),
                                           _plus(hi, 60))] if hi is not None else None]
            else:
                conv = _as_type(dtype)
                good = [c for c in map(conv, _inside(lo, hi)) if c is not None]
                sides = [[c for c in map(conv, (lo if smin else _step(lo, -1), _plus(lo, -1)))
                          if c is not None] if lo is not None else None,
                         [c for c in map(conv, (hi if smax else _step(hi, 1), _plus(hi, 1)))
                          if c is not None] if hi is not None else None]
            group = object()
            for side in sides:
                if side is not None:
                    rules.append(Rule(label, (text_col,), keep, expect,
                                      [{text_col: g} for g in good if g is not None],
                                      [[{text_col: b} for b in side if b is not None]],
                                      when, condition, group))
        elif etype == "expect_column_values_to_not_be_null":
            if derived and meta.get("kind") == "checkbox_any":
                boxes = tuple(meta["columns"])
                rules.append(Rule(f"{meta['field']} at least one box ticked", boxes,
                                  lambda row, b=boxes: any(row.get(c) == "1" for c in b),
                                  expect, [dict.fromkeys(boxes, "1")],
                                  [[dict.fromkeys(boxes, "0")]],
                                  when, condition))
            else:
                rules.append(Rule(f"{column} not null{where}", (column,),
                                  lambda row, c=column: row.get(c) is not None, expect,
                                  [{column: _default(dtype, column)}], [[{column: None}]],
                                  when, condition))
        elif etype == "expect_column_values_to_be_in_set":
            values = list(kw["value_set"])
            if dtype == pl.String:
                bad = [m for v in values for m in mutations(str(v))]
            else:
                outside = (_plus(max(values), 1), _plus(min(values), -1))
                bad = [v for v in map(_as_type(dtype), outside) if v is not None]
            rules.append(_value_rule(f"{column} in {values}{where}", column,
                                     lambda v, s=values: v in s, expect, values,
                                     [[b for b in bad if b not in values]],
                                     when=when, condition=condition, mutate=True))
        elif etype == "expect_column_values_to_match_regex":
            regex = kw["regex"]
            good = regex_example(regex)
            rules.append(_value_rule(f"{column} matches {regex}{where}", column,
                                     lambda v, r=regex: re.search(r, str(v)) is not None,
                                     expect, [good], [mutations(good)],
                                     when=when, condition=condition, mutate=True))
        elif etype == "expect_column_values_to_match_strftime_format":
            fmt_ = kw["strftime_format"]
            good = _BASE_DATETIME.strftime(fmt_)

            def parses(v, f=fmt_):
                try:
                    dt.datetime.strptime(v, f)
                    return True
                except (ValueError, TypeError):
                    return False
            rules.append(_value_rule(f"{column} strftime {fmt_}{where}", column, parses,
                                     expect, [good], [mutations(good)],
                                     when=when, condition=condition, mutate=True))
        else:
            raise CanaryBuildError(f"{owner}: the canary builder does not know the expectation "
                                   f"{etype} (on {column}); teach isletflow/canary.py the rule")
    return rules


def _edc_formatter(meta: dict) -> Callable[[Any], str | None]:
    """How a typed value of an EDC field is written in the export (its validation kind)."""
    from schemas.redcap_suites import STRFTIME

    kind = meta["kind"]
    if kind in STRFTIME or kind == "time_ms":
        f = STRFTIME.get(kind, "%M:%S")
        return lambda v: v.strftime(f) if isinstance(v, dt.datetime) else None
    digits = re.search(r"number_(\d)dp", kind)
    comma = kind.endswith("comma")

    def fmt(v):
        if not isinstance(v, int | float) or isinstance(v, bool) or math.isinf(v):
            return None
        if kind in ("integer", "slider"):
            return str(int(v)) if float(v).is_integer() else None
        text = f"{v:.{digits.group(1)}f}" if digits else repr(float(v)).removesuffix(".0")
        return text.replace(".", ",") if comma else text
    return fmt


# ---------------------------------------------------------------------------------------
# canary rows


def build_rows(owner: str, rules: list[Rule], base: dict, blank_is_null: bool = False
               ) -> tuple[dict, list[tuple[Rule, dict, frozenset]]]:
    """The valid row (``base`` changed until it keeps every rule) and one row per rule's
    break (the valid row with the rule's condition and the first breaking candidate that
    breaks this rule and keeps every other; failing that, the first whose other broken
    rules the runner reports under other (column, rule) pairs: those are the third item).
    With ``blank_is_null`` (REDCap exports: the runner trims values and takes an empty one
    as missing), no candidate is blank text."""
    row = dict(base)
    pool: dict[str, list] = {}
    for r in rules:
        for cand in r.valid:
            for c, v in cand.items():
                pool.setdefault(c, []).append(v)
    kept: list[Rule] = []
    for r in rules:
        if not r.kept(row):
            cands = r.valid + [{c: v} for c in r.columns for v in pool.get(c, [])]
            for cand in cands:
                trial = {**row, **cand}
                if r.kept(trial) and all(k.kept(trial) for k in kept):
                    row = trial
                    break
            else:
                raise CanaryBuildError(f"{owner}: no valid row keeps {r.label!r} with the rules "
                                       f"before it")
        kept.append(r)
    for c, cands in pool.items():  # an empty column a rule reads gets a value too
        for v in cands if row.get(c) is None else ():
            if all(r.kept({**row, c: v}) for r in rules):
                row[c] = v
                break
    broken = [r.label for r in rules if not r.kept(row)]
    if broken:
        raise CanaryBuildError(f"{owner}: no valid row keeps {broken}")
    out = []
    for r in rules:
        for side in r.breaks:
            start = {**row, **r.condition}
            if r.mutate:
                side = side + [{c: m} for c in r.columns if isinstance(start.get(c), str)
                               for m in mutations(start[c])]
            fallback = None
            for cand in side:
                if blank_is_null and any(isinstance(v, str) and not v.strip()
                                         for v in cand.values()):
                    continue
                trial = {**start, **cand}
                if not r.when(trial) or r.holds(trial):
                    continue
                also = {o.expect for o in rules if o is not r and not o.kept(trial)
                        and (o.group is None or o.group is not r.group)}
                if not also:
                    out.append((r, trial, frozenset()))
                    break
                if fallback is None and r.expect not in also:
                    fallback = (r, trial, frozenset(also))
            else:
                # no row breaks only this rule (a required checkbox of one box: a box that
                # is not 0/1 is also no box ticked): one that breaks others too, each
                # reported under another (column, rule), still tells whether it fires
                if fallback is None:
                    raise CanaryBuildError(f"{owner}: the canary builder found no row that "
                                           f"breaks {r.label!r} and keeps the other rules")
                out.append(fallback)
    return row, out


def _shown(rule: Rule | None, row: dict, valid: dict) -> str:
    if rule is None:
        return ""
    changed = [c for c in rule.columns if row.get(c) != valid.get(c)]
    return ", ".join(f"{c} = {row.get(c)!r}" if isinstance(row.get(c), str)
                     else f"{c} = {row.get(c)}" for c in changed)


def pandera_canary(table: str, schema: pa.DataFrameSchema,
                   run: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> Canary:
    """The canary of a core table's pandera contract ``schema``, run by ``run`` (default:
    ``quality.pandera_issues`` with ``schema``)."""
    owner = f"core.{table} pandera"
    if any(c not in schema.columns for c in LINEAGE):
        raise CanaryBuildError(f"{owner}: the contract has no lineage columns {LINEAGE}")
    dtypes = {c: col.dtype.type for c, col in schema.columns.items()}
    rules = pandera_rules(schema, owner)
    valid, broken = build_rows(owner, rules, {c: _default(t, c) for c, t in dtypes.items()})
    rows, dicts = [], []
    for i, (rule, row, also) in enumerate([(None, valid, frozenset()), *broken]):
        row = dict(row)
        if rule is None or "source_row" not in rule.columns:
            row["source_row"] = valid["source_row"] + i
        others = [r for r in rules if rule is None or r is not rule
                  and (r.group is None or r.group is not rule.group)]
        if not all(r.kept(row) for r in others):
            raise CanaryBuildError(f"{owner}: numbering the canary rows breaks another rule")
        key = (row["source_file_id"], row["source_row"])
        if any(r.key == key for r in rows):
            raise CanaryBuildError(f"{owner}: two canary rows have the lineage {key}")
        rows.append(CanaryRow(key, rule, _shown(rule, row, valid), also))
        dicts.append(row)
    frame = pl.DataFrame(dicts, schema=dtypes)
    wrong = pl.DataFrame(schema={**{c: _other_dtype(t) for c, t in dtypes.items()},
                                 **({EXTRA_COLUMN: pl.String} if schema.strict else {})})
    name = schema.name
    wide = [(f"{c} dtype('{schema.columns[c].dtype}')", f"{c}: dtype('{schema.columns[c].dtype}')")
            for c in dtypes]
    if schema.strict:
        wide.append(("strict (no other column)", f"{name}: column_in_schema ({EXTRA_COLUMN})"))
    missing = [(f"{c} required", f"{name}: column_in_dataframe ({c})")
               for c, col in schema.columns.items() if col.required]
    whole = [("wrong dtypes", wrong, wide),
             ("no columns", pl.DataFrame(schema={EXTRA_COLUMN: pl.String}), missing)]
    return Canary(owner, frame, rows, run or (lambda df: pandera_issues(df, schema, table)),
                  whole, table)


def _with_row(row: dict, key: tuple[str, int]) -> dict:
    return {**row, "source_file_id": key[0], "source_row": key[1]}


def gx_canary(table: str, suite_factory, schema: pa.DataFrameSchema,
              run: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> Canary:
    """The canary of the GX suite ``suite_factory()`` of a core table, run by ``run``
    (default: ``quality.gx_issues`` with the suite): rows of the table's pandera contract
    ``schema`` (its valid canary row as the start) that break each expectation."""
    from isletflow.quality import _gx_batch_definition

    _gx_batch_definition()  # a suite needs a GX context first
    suite = suite_factory()
    owner = f"gx suite {suite.name}"
    dtypes = {c: col.dtype.type for c, col in schema.columns.items()}
    rules = gx_rules(suite, dtypes, owner)
    start = pandera_canary(table, schema).frame.row(0, named=True)
    valid, broken = build_rows(owner, rules, start)
    rows, dicts = [], []
    for i, (rule, row, also) in enumerate([(None, valid, frozenset()), *broken]):
        key = (valid["source_file_id"], valid["source_row"] + i)
        rows.append(CanaryRow(key, rule, _shown(rule, row, valid), also))
        dicts.append(_with_row(row, key))
    frame = pl.DataFrame(dicts, schema=dtypes)
    return Canary(owner, frame, rows, run or (lambda df: gx_issues(df, suite_factory, table)),
                  table=table)


def edc_canary(form: str, dic, suite,
               run: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> Canary:
    """The canary of the EDC suite ``suite`` of one REDCap form of the dictionary ``dic``,
    run by ``run`` (default: ``redcap_suites.edc_issues`` for the form): export rows of one
    made-up export file, in ``raw.redcap``'s long shape, that break each expectation."""
    from schemas.redcap_suites import _derived, edc_issues

    owner = f"edc suite {suite.name}"
    columns = sorted({c for e in suite.expectations for c in (e.meta or {}).get("columns", [])})
    dtypes = dict.fromkeys(columns, pl.String)
    cache: dict = {}

    def derived(row: dict, column: str):
        e = next(x for x in suite.expectations if x.column == column)
        meta = e.meta
        args = tuple(row.get(c) for c in meta["columns"])
        if (column, args) not in cache:
            one = pl.DataFrame([dict(zip(meta["columns"], args, strict=True))],
                               schema=dict.fromkeys(meta["columns"], pl.String))
            cache[(column, args)] = one.select(_derived(meta, set(columns))).item()
        return cache[(column, args)]

    rules = gx_rules(suite, dtypes, owner, derived=derived)
    valid, broken = build_rows(owner, rules, dict.fromkeys(columns), blank_is_null=True)
    rows, long = [], []
    for i, (rule, row, also) in enumerate([(None, valid, frozenset()), *broken]):
        key = (_FILE_ID, 2 + i)
        rows.append(CanaryRow(key, rule, _shown(rule, row, valid), also))
        long += [{"file_id": key[0], "row_number": key[1], "field": c, "value": v,
                  "record_id": f"canary-{i}", "redcap_event_name": None,
                  "redcap_repeat_instrument": None, "redcap_repeat_instance": None,
                  "form": form, "form_complete": "2"} for c, v in row.items()]
    frame = pl.DataFrame(long, schema={"file_id": pl.String, "row_number": pl.Int64,
                                       "field": pl.String, "value": pl.String,
                                       "record_id": pl.String, "redcap_event_name": pl.String,
                                       "redcap_repeat_instrument": pl.String,
                                       "redcap_repeat_instance": pl.String, "form": pl.String,
                                       "form_complete": pl.String})
    return Canary(owner, frame, rows, run or (lambda df: edc_issues(df, dic, forms=[form])))


def key_canary(table: str, key: tuple[str, ...], dtypes: dict[str, pl.DataType],
               valid: dict, violations=key_violations) -> Canary:
    """The canary of a core table's key-uniqueness schema, run by ``violations``
    (``quality.key_violations``): rows 2 and 4 share a key (``valid``'s values of the key
    columns), row 3 differs in its last key column (a character added, the next value)."""
    last = key[-1]
    other = valid[last] + "x" if isinstance(valid[last], str) else _step(valid[last], 1)
    rows = [{**{c: valid[c] for c in key}, "source_row": n} for n in (2, 3, 4)]
    rows[1][last] = other
    frame = pl.DataFrame(rows, schema={**{c: dtypes[c] for c in key}, "source_row": pl.Int64})
    label = f"key ({', '.join(key)}) unique"
    rule = Rule(label, key, lambda row: True, ("", ""))
    canary_rows = [CanaryRow(("", 2), rule, f"{last} = {valid[last]!r} twice"),
                   CanaryRow(("", 3), None, ""), CanaryRow(("", 4), rule, "")]

    def run(df: pl.DataFrame) -> pl.DataFrame:
        dup = violations(df, key, table)
        return pl.DataFrame({"source_file_id": [""] * dup.height,
                             "source_row": dup["source_row"], "column_name": [""] * dup.height,
                             "rule": [""] * dup.height})
    return Canary(f"core.{table} key", frame, canary_rows, run, table=table)


# ---------------------------------------------------------------------------------------
# running


def run_canary(canary: Canary) -> CanaryResult:
    """Run ``canary`` by its contract's runner: each breaking row must be reported with its
    check, the valid rows with none; the frame-wide canaries must stop the runner with a
    ContractError naming each of their checks."""
    t0 = time.perf_counter()
    issues = canary.run(canary.frame)
    got: dict[tuple, set] = {}
    for r in issues.iter_rows(named=True):
        got.setdefault((r["source_file_id"], r["source_row"]), set()).add(
            (r["column_name"], r["rule"]))
    failures, extra = [], []
    for row in canary.rows:
        found = got.get(row.key, set())
        if row.rule is None:
            if found:
                failures.append(f"canary: {canary.name} failed its valid canary row: "
                                + "; ".join(f"{c} {r}" for c, r in sorted(found)))
            continue
        if row.rule.expect not in found:
            failures.append(f"canary: {canary.name} {canary.kind} '{row.rule.label}' passed a row "
                            f"that breaks it" + (f" ({row.shown})" if row.shown else ""))
        elif found - {row.rule.expect} - row.also:
            extra.append(f"{canary.name}: the row breaking '{row.rule.label}' also failed "
                         + "; ".join(f"{c} {r}" for c, r in
                                     sorted(found - {row.rule.expect} - row.also)))
    n_whole, whole_failures = run_whole(canary)
    return CanaryResult(canary.name, len(canary.rows), n_whole, failures + whole_failures,
                        extra, time.perf_counter() - t0)


def run_whole(canary: Canary) -> tuple[int, list[str]]:
    """The frame-wide canaries of ``canary`` (each column's dtype, each required column, no
    other column): each must stop the runner with a ContractError naming its check. (The
    number of checks, the failures.)"""
    n_whole, failures = 0, []
    for what, frame, checks in canary.whole:
        n_whole += len(checks)
        try:
            canary.run(frame)
            message = ""
        except ContractError as err:
            message = str(err)
        failures += [f"canary: {canary.name} check '{label}' passed a frame that breaks it "
                     f"({what})" for label, text in checks if text not in message]
    return n_whole, failures


def trial_canaries(trial, names: Iterable[str] | None = None) -> list[Canary]:
    """Every contract the night runs for ``trial`` (only those named in ``names`` if given),
    as canaries built from the rules as the night declares them: the pandera contracts of the
    core tables, the GX suites, the EDC suites of the trial's REDCap dictionary if it names
    one, the key schemas.

    The rules are read where the night's validation takes them (``isletflow.build``:
    ``core_contracts``, ``GX_SUITES``, ``CORE_KEYS``; ``schemas.redcap_suites.
    suites_from_dictionary``), when this is called; the canaries are run by the functions the
    validation uses (``build.pandera_issues``, ``build.gx_issues``, ``build.edc_issues``,
    ``quality.key_violations``), looked up when the canary runs. Tonight they are the same
    objects; a weakened runner or contract put in their place is caught. The key canaries
    hold made-up values of each column's type (``_default``): uniqueness reads no other rule,
    and no value of the trial file enters them."""
    from isletflow import build as b
    from isletflow import quality
    from isletflow.readers.redcap_dictionary import RedcapDictionary
    from isletflow.trial import dictionary_path
    from schemas.redcap_suites import suites_from_dictionary

    wanted = None if names is None else set(names)
    contracts = b.core_contracts(trial)
    running: dict = {}

    def run_contract(table):
        def run(df):
            if running.get("from") is not b.core_contracts:  # (made once per function)
                running.update({"from": b.core_contracts, "contracts": b.core_contracts(trial)})
            return b.pandera_issues(df, running["contracts"][table], table)
        return run
    out = [pandera_canary(t, s, run_contract(t)) for t, s in contracts.items()]
    out += [gx_canary(t, f, contracts[t],
                      lambda df, t=t: b.gx_issues(df, b.GX_SUITES[t], t))
            for t, f in b.GX_SUITES.items()]
    path = dictionary_path(trial)
    if path is not None and (wanted is None or any(n.startswith("edc ") for n in wanted)):
        dic = RedcapDictionary.from_file(path)
        out += [edc_canary(form, dic, suite,
                           lambda df, form=form: b.edc_issues(df, dic, forms=[form]))
                for form, suite in
                suites_from_dictionary(dic, forms=list(trial.redcap_fields)).items()
                if len(suite.expectations)]
    for table, key in b.CORE_KEYS.items():
        dtypes = {c: col.dtype.type for c, col in contracts[table].columns.items()}
        out.append(key_canary(table, key.columns, dtypes,
                              {c: _default(dtypes[c], c) for c in key.columns},
                              lambda *a: quality.key_violations(*a)))
    return [c for c in out if wanted is None or c.name in wanted]


# ---------------------------------------------------------------------------------------
# committed canaries

CANARY_DIR = PROJECT_ROOT / "schemas" / "canaries"
FROM_TRIAL = "<from the trial file>"
WRITE_HINT = "run `isletflow canary --write` and review the diff"
_ABOUT = ("The committed canary rows of one core table's contracts (isletflow/canary.py): the "
          "valid row, and one row per check labelled with the check it must trip. Written by "
          "`isletflow canary --write`; changing it is a reviewed change (the diff shows which "
          "rule moved).")
# column type names of the committed files (a column of another type cannot be committed)
_DTYPES: dict[str, pl.DataType] = {
    "String": pl.String(), "Int64": pl.Int64(), "Int32": pl.Int32(), "Float64": pl.Float64(),
    "Boolean": pl.Boolean(), "Date": pl.Date(), "Datetime(us)": pl.Datetime("us")}


def from_trial(trial) -> set[tuple[str, str]]:
    """(table, check label) of each pandera check whose parameters the trial file sets: the
    checks ``schemas.core.core_contracts`` adds to the models' own
    (``CORE_MODELS[table].to_schema()``). Read from schemas.core itself, not from where the
    night takes its contracts (``isletflow.build``), so that a check changed there is never
    taken for one of the trial's."""
    from schemas.core import CORE_MODELS, core_contracts

    out = set()
    for table, schema in core_contracts(trial).items():
        own = _check_labels(CORE_MODELS[table].to_schema())
        out |= {(table, label) for label in _check_labels(schema) - own}
    return out


def _check_labels(schema: pa.DataFrameSchema) -> set[str]:
    return {f"{c} {k.error or k.name}" for c, col in schema.columns.items() for k in col.checks}


def _template(label: str) -> str:
    """A trial check's label without the trial's values: ``site_id isin(<from the trial
    file>)``."""
    column, check = label.split(" ", 1)
    return f"{column} {check.split('(')[0]}({FROM_TRIAL})"


def _dtype_name(dtype: pl.DataType, owner: str) -> str:
    for name, t in _DTYPES.items():
        if dtype == t:
            return name
    raise CanaryBuildError(f"{owner}: a column of type {dtype} cannot be committed "
                           f"(isletflow.canary._DTYPES)")


def _encode(v, owner: str):
    """A value as the committed file holds it: dates and times as ISO 8601 text (cast back
    by the column's type), floats as Python's shortest repr (exact for float64)."""
    if isinstance(v, dt.date):  # (a datetime too)
        return v.isoformat()
    if isinstance(v, float) and not math.isfinite(v):
        raise CanaryBuildError(f"{owner}: {v} cannot be committed as JSON")
    return v


def _decode(v, dtype: pl.DataType):
    if v is None:
        return None
    if dtype == pl.Date:
        return dt.date.fromisoformat(v)
    if isinstance(dtype, pl.Datetime):
        return dt.datetime.fromisoformat(v)
    return float(v) if dtype.is_float() else v


def _delta(row: dict, valid: dict, rule: Rule) -> dict:
    """The columns a breaking row changes from the valid row, and those of the rule's row
    condition (``analyte`` of a lab range) even when the valid row has them already; its line
    number only when the rule reads it (otherwise it only numbers the row)."""
    return {c: v for c, v in row.items()
            if (v != valid.get(c) or c in rule.condition)
            and (c != "source_row" or "source_row" in rule.columns)}


def _show(delta: dict) -> str:
    return ", ".join(f"{c} = {v!r}" if isinstance(v, str) else f"{c} = {v}"
                     for c, v in delta.items())


def committed_entry(canary: Canary, trial_checks: set[tuple[str, str]]) -> dict:
    """What the committed file holds of a core table's canary (pandera, GX or key; an EDC
    canary is built from the trial's dictionary every night and is never committed).

    Rows: ``columns`` (name -> type), ``valid`` (the valid row, less the ``from_trial``
    columns), ``breaks`` (per check: its label, the values that break it, as changes to the
    valid row, and the (column, rule) the runner must report). The checks whose parameters
    the trial file sets are listed in ``from_trial.checks`` by their label without those
    values; their rows and the valid row's values of their columns are built every night."""
    if canary.kind == "schema":
        frame = canary.frame
        return {"contract": canary.name, "check": canary.rows[0].rule.label,
                "columns": {c: _dtype_name(t, canary.name) for c, t in frame.schema.items()},
                "rows": [{c: _encode(v, canary.name) for c, v in r.items()}
                         for r in frame.rows(named=True)],
                "reported_as": [r.key[1] for r in canary.rows if r.rule is not None]}
    rows = canary.frame.rows(named=True)
    valid = rows[0]
    labels = {r.rule.label for r in canary.rows if r.rule}
    trial = {label for t, label in trial_checks if t == canary.table}
    trial_cols = [c for c in canary.frame.columns
                  if any(label.split(" ", 1)[0] == c for label in trial)]
    breaks = []
    for cr, row in zip(canary.rows[1:], rows[1:], strict=True):
        if cr.rule.label in trial:
            continue
        delta = _delta(row, valid, cr.rule)
        stray = [c for c in trial_cols if delta.get(c) is not None]
        if stray:
            raise CanaryBuildError(f"{canary.name}: the row breaking {cr.rule.label!r} sets "
                                   f"{stray}, whose values come from the trial file")
        entry = {"check": cr.rule.label,
                 "row": {c: _encode(v, canary.name) for c, v in delta.items()},
                 "reported_as": list(cr.rule.expect)}
        if cr.also:
            entry["also"] = sorted(list(x) for x in cr.also)
        breaks.append(entry)
    return {"contract": canary.name,
            "columns": {c: _dtype_name(t, canary.name) for c, t in canary.frame.schema.items()},
            "from_trial": {"columns": trial_cols,
                           "checks": sorted({_template(label) for label in labels & trial})},
            "valid": {c: _encode(v, canary.name) for c, v in valid.items()
                      if c not in trial_cols},
            "breaks": breaks}


def _dump(obj, level: int = 0) -> str:
    """JSON, one line per value where it fits in 100 characters (a readable diff)."""
    one = json.dumps(obj)
    if not isinstance(obj, dict | list) or not obj or len(one) + 2 * level <= 100:
        return one
    pad, end = "  " * (level + 1), "  " * level
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k)}: {_dump(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{end}}}"
    return "[\n" + ",\n".join(pad + _dump(v, level + 1) for v in obj) + f"\n{end}]"


def canary_files(trial, canaries: Iterable[Canary] | None = None) -> dict[str, str]:
    """The committed canary files as the builder writes them today: file name (``<core
    table>.json``) -> text; the same for every trial file (no value of the trial's enters)."""
    checks = from_trial(trial)
    tables: dict[str, list] = {}
    for c in trial_canaries(trial) if canaries is None else canaries:
        if c.table:
            tables.setdefault(c.table, []).append(committed_entry(c, checks))
    return {f"{t}.json": _dump({"about": _ABOUT, "table": t, "contracts": entries}) + "\n"
            for t, entries in tables.items()}


def write_canaries(trial, directory: Path | None = None) -> list[tuple[str, str]]:
    """Write the committed canary files to ``directory`` (default ``schemas/canaries``),
    removing those of tables no contract has; (file name, "written", "unchanged" or
    "removed") each."""
    directory = directory or CANARY_DIR
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    files = canary_files(trial)
    for name, text in files.items():
        path = directory / name
        same = path.exists() and path.read_text(encoding="utf-8") == text
        if not same:
            path.write_text(text, encoding="utf-8")
        out.append((name, "unchanged" if same else "written"))
    for path in sorted(directory.glob("*.json")):
        if path.name not in files:
            path.unlink()
            out.append((path.name, "removed"))
    return out


def load_committed(directory: Path | None = None) -> dict[str, dict]:
    """The committed canaries, by contract name (each with ``file``, its file name)."""
    out = {}
    for path in sorted((directory or CANARY_DIR).glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8"))["contracts"]:
            out[entry["contract"]] = {**entry, "file": path.name}
    return out


def _missing(canary: Canary, label: str) -> str:
    return (f"canary: {canary.name} {canary.kind} '{label}' has no committed canary row; "
            f"{WRITE_HINT}")


def _stale(canary: Canary, label: str) -> str:
    return (f"canary: {canary.name} {canary.kind} '{label}' has a committed canary row but is "
            f"no longer declared; {WRITE_HINT}")


def run_committed(built: Canary, entry: dict, trial_checks: set[tuple[str, str]]
                  ) -> CanaryResult:
    """Run a contract's committed canary rows by the night's runner (``built.run``), with
    the rows of the trial's checks and the frame-wide canaries built tonight (``built``).

    Fails (a line each) when: a committed breaking row is not reported with the (column,
    rule) it names (``passed a row that breaks it``: the check was loosened, removed, or its
    runner stopped checking rows); the valid row is reported; a check declared tonight has no
    committed row (a new or changed check; so a loosened check shows twice: its committed row
    passes, its new parameters have none); a committed check is no longer declared although
    its row is still reported (otherwise the passed row says it already)."""
    t0 = time.perf_counter()
    if built.kind == "schema":
        return _run_committed_key(built, entry, t0)
    dtypes = {c: _DTYPES[n] for c, n in entry["columns"].items()}
    built_rows = built.frame.rows(named=True)
    trial_cols = entry["from_trial"]["columns"]
    valid = {c: built_rows[0].get(c) if c in trial_cols else _decode(entry["valid"].get(c), t)
             for c, t in dtypes.items()}
    trial = {label for t, label in trial_checks if t == built.table}
    cases = [(b["check"], tuple(b["reported_as"]), frozenset(map(tuple, b.get("also", []))),
              {c: _decode(v, dtypes[c]) for c, v in b["row"].items()}) for b in entry["breaks"]]
    cases += [(cr.rule.label, cr.rule.expect, cr.also,
               _delta(row, built_rows[0], cr.rule))
              for cr, row in zip(built.rows[1:], built_rows[1:], strict=True)
              if cr.rule.label in trial]
    rows = [valid] + [{**valid, "source_row": valid["source_row"] + i,
                       **{c: v for c, v in delta.items() if c in dtypes}}
                      for i, (*_, delta) in enumerate(cases, 1)]
    keys = [(r["source_file_id"], r["source_row"]) for r in rows]
    failures: list[str] = []
    extra: list[str] = []
    if len(set(keys)) < len(keys):
        failures.append(f"canary: {built.name}: two committed canary rows have one lineage; "
                        f"{WRITE_HINT}")
    got: dict[tuple, set] = {}
    try:
        issues = built.run(pl.DataFrame(rows, schema=dtypes))
    except Exception as err:  # noqa: BLE001 (reported as the contract's failure)
        first = (str(err).splitlines() or [""])[0]
        failures.append(f"canary: {built.name} stopped on its committed canary rows "
                        f"({type(err).__name__}: {first})")
        issues = None
    if issues is not None:
        for r in issues.iter_rows(named=True):
            got.setdefault((r["source_file_id"], r["source_row"]), set()).add(
                (r["column_name"], r["rule"]))
        if got.get(keys[0]):
            failures.append(f"canary: {built.name} failed its valid canary row: "
                            + "; ".join(f"{c} {r}" for c, r in sorted(got[keys[0]])))
    passed = set()
    for (label, expect, also, delta), key in zip(cases, keys[1:], strict=True):
        found = got.get(key, set())
        if issues is None:
            continue
        if expect not in found:
            passed.add(label)
            instead = sorted(f"{c} {r}" for c, r in found if c == expect[0])
            failures.append(f"canary: {built.name} {built.kind} '{label}' passed a row that "
                            f"breaks it ({_show(delta)})" if not instead else
                            f"canary: {built.name} {built.kind} '{label}' did not flag the "
                            f"row that breaks it ({_show(delta)}), flagged by "
                            f"{'; '.join(instead)} instead")
        elif found - {expect} - also:
            extra.append(f"{built.name}: the row breaking '{label}' also failed "
                         + "; ".join(f"{c} {r}" for c, r in sorted(found - {expect} - also)))
    declared = list(dict.fromkeys(r.rule.label for r in built.rows if r.rule))
    committed = {b["check"] for b in entry["breaks"]}
    templates = {_template(label) for label in declared if label in trial}
    failures += [_missing(built, _template(label) if label in trial else label)
                 for label in declared
                 if (_template(label) not in entry["from_trial"]["checks"] if label in trial
                     else label not in committed)]
    failures += [_stale(built, label) for label in dict.fromkeys(b["check"] for b in
                                                                 entry["breaks"])
                 if label not in declared and label not in passed]
    failures += [_stale(built, t) for t in entry["from_trial"]["checks"] if t not in templates]
    n_whole, whole_failures = run_whole(built)
    return CanaryResult(built.name, len(rows), n_whole, failures + whole_failures, extra,
                        time.perf_counter() - t0, len(entry["breaks"]) + 1)


def _run_committed_key(built: Canary, entry: dict, t0: float) -> CanaryResult:
    """A key schema's committed rows run by ``quality.key_violations`` on the committed key
    columns: the rows named ``reported_as`` must be reported, and only they; the key declared
    tonight must be the committed one (its label)."""
    from isletflow import quality

    dtypes = {c: _DTYPES[n] for c, n in entry["columns"].items()}
    rows = [{c: _decode(r.get(c), t) for c, t in dtypes.items()} for r in entry["rows"]]
    key = tuple(c for c in dtypes if c != "source_row")
    want = set(entry["reported_as"])
    failures = []
    flagged = set(quality.key_violations(pl.DataFrame(rows, schema=dtypes), key,
                                         built.table)["source_row"])
    label = entry["check"]
    if not want <= flagged:
        first = next(r for r in rows if r["source_row"] in want)
        failures.append(f"canary: {built.name} schema '{label}' passed rows that break it ("
                        + _show({c: first[c] for c in key}) + " twice)")
    if flagged - want:
        failures.append(f"canary: {built.name} failed its valid canary row: "
                        f"rows {sorted(flagged - want)} reported as sharing a key")
    declared = built.rows[0].rule.label
    if declared != label:
        failures.append(_missing(built, declared))
        if want <= flagged:
            failures.append(_stale(built, label))
    return CanaryResult(built.name, len(rows), 0, failures, [], time.perf_counter() - t0,
                        len(rows))


def run_canaries(trial, names: Iterable[str] | None = None,
                 directory: Path | None = None) -> list[CanaryResult]:
    """Every canary of ``trial`` run (only those named in ``names`` if given): each core
    table's contract on its committed rows (:func:`run_committed`, ``directory`` default
    ``schemas/canaries``), the EDC suites on the rows built tonight (:func:`run_canary`); a
    contract with no committed canaries, or committed canaries of no contract, fails."""
    built = trial_canaries(trial, names)
    committed = load_committed(directory)
    checks = from_trial(trial)
    results = []
    for c in built:
        if not c.table:  # EDC: built from the trial's dictionary, which is data
            results.append(run_canary(c))
        elif c.name not in committed:
            results.append(CanaryResult(c.name, 0, 0, [
                f"canary: {c.name} has no committed canaries ({c.table}.json); {WRITE_HINT}"],
                [], 0.0))
        else:
            results.append(run_committed(c, committed[c.name], checks))
    if names is None:
        results += [CanaryResult(n, 0, 0, [f"canary: {n} has committed canaries "
                                           f"({committed[n]['file']}) but is no longer "
                                           f"declared; {WRITE_HINT}"], [], 0.0)
                    for n in committed.keys() - {c.name for c in built}]
    return results


def check_canaries(trial, names: Iterable[str] | None = None,
                   directory: Path | None = None) -> list[CanaryResult]:
    """Run every canary (:func:`run_canaries`); a :class:`CanaryError` listing each failure
    (its first line the first of them) when there is any."""
    results = run_canaries(trial, names, directory)
    failures = [f for r in results for f in r.failures]
    if failures:
        raise CanaryError("\n".join(failures))
    return results
