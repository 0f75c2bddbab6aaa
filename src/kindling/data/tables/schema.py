"""Column typing: what each column of a table is, and what kindling will do with it.

Typing looks at the whole table (types and cardinality are schema, not statistics); everything numeric
that is fitted (means, medians, category lists) is fitted on the training split only, in `encoders`.
The plan is printed before training as a short table so a surprise shows up before the first epoch.
"""

from __future__ import annotations

import re
import shlex
import textwrap
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kindling.data.tables.roles import numbers_in, type_codes
from kindling.errors import MAX_MESSAGE, UserError, did_you_mean

ID_NAME = re.compile(r"(^|_)(id|uuid|guid|index|key)$|^unnamed: \d+$", re.IGNORECASE)
YMD = ("year", "month", "day")


@dataclass
class Column:
    name: str  # the column (for a year/month/day triple: "date")
    kind: str  # numeric | category | embed | text | date | ymd | target | dropped
    handling: str  # what happens to it, in words
    missing: int = 0
    sources: list[str] = field(default_factory=list)  # the input columns it reads
    options: dict = field(default_factory=dict)  # for its encoder (kindling.data.tables.roles)


@dataclass
class Plan:
    target: str
    task: str  # classification | regression
    columns: list[Column]
    task_reason: str = ""  # why, when kindling chose the task: "2 distinct whole numbers"
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[Column]:
        return [c for c in self.columns if c.kind not in ("target", "dropped")]


def infer_plan(
    frame: pd.DataFrame,
    target: str | None,
    drop: list[str],
    task: str,
    categorical: str,
    missing: str,
    where: str = "the table",
    keep: list[str] = (),
    spec: str = "",
) -> Plan:
    """Type every column of `frame`; refuse what cannot be used, with the fix in the message.
    `drop`: columns left out; `keep`: columns used although kindling would leave them out; `spec`: the
    data spec the table came from (`csv:cancer.csv`), named for `kindling data SPEC` in a refusal."""
    names = list(frame.columns)
    if categorical not in ("onehot", "embed"):
        raise UserError(f"data.categorical '{categorical}' is not one of onehot, embed")
    if missing not in ("impute", "refuse"):
        raise UserError(f"data.missing '{missing}' is not one of impute, refuse")
    target = check_target(names, target, where, spec)
    _check_named(names, target, drop, keep, where)
    task, reason = infer_task(frame[target], task, target, where)
    columns = [Column(target, "target", f"target ({task})", int(frame[target].isna().sum()))]
    columns += [Column(n, "dropped", "dropped (data.drop)", int(frame[n].isna().sum())) for n in drop]
    rest = [n for n in names if n != target and n not in drop]
    triple = _ymd_triple(frame, rest)
    if triple:
        columns.append(
            Column(
                "date",
                "ymd",
                "date features (year, month, day, weekday, season)",
                int(frame[triple].isna().any(axis=1).sum()),
                list(triple),
            )
        )
        rest = [n for n in rest if n not in triple]
    columns += [type_column(frame[n], n, categorical, len(frame), n in keep) for n in rest]
    plan = Plan(target, task, columns, task_reason=reason)
    _check_missing(plan, missing)
    if not plan.features:
        raise UserError(
            f"{where} has no usable feature columns besides the target '{target}' ({_describe_dropped(plan)})"
        )
    return plan


def _check_named(names: list[str], target: str, drop: list[str], keep: list[str], where: str) -> None:
    """data.drop and data.keep name columns of the table, not the target, and not the same column."""
    for key, named in (("drop", drop), ("keep", keep)):
        for name in named:
            if name not in names:
                raise UserError(
                    f"data.{key} names '{name}', which is not a column of {where}{did_you_mean(name, names)}; columns: {_listed(names)}"
                )
        if target in named:
            raise UserError(
                f"data.{key} names the target '{target}' of {where}; name only feature columns, or predict "
                "another column with --target"
            )
    both = [n for n in keep if n in drop]
    if both:
        raise UserError(f"'{both[0]}' is in both data.keep and data.drop; name it in one of them")


def check_target(names: list[str], target: str | None, where: str, spec: str = "") -> str:
    """The target column, or one line under 300 characters: the near miss first, then a few columns and
    where to see them all (`kindling data SPEC`; a DataFrame's own `.columns`)."""
    lister = f"`kindling data {spec}`" if spec and not spec.startswith("objects:") else "its .columns"
    if spec.startswith("csv:") and "/" in where:  # the path is in `kindling data SPEC`: room for columns
        where = where.rsplit("/", 1)[1]
    if not target:
        raise UserError(
            _within(
                f"tables need a target column: pass --target COLUMN; {where} has {len(names)} columns "
                f"({{}}); {lister} lists them all",
                names,
            )
        )
    if target not in names:
        if len(names) == 1:
            raise UserError(
                f"target column '{target}' is not in {where}, which was read as one column "
                f"({_listed(names, 1, 60)}): is it separated by something else?"
            )
        same = [n for n in names if str(n).lower() == target.lower()]  # 'Y' for 'y': case alone
        close = f" (did you mean '{same[0]}'?)" if same else did_you_mean(target, names)
        if close:
            raise UserError(
                f"target column '{target}' is not in {where}{close}; {lister} lists its {len(names)} columns"
            )
        raise UserError(
            _within(
                f"target column '{target}' is not in {where}; its {len(names)} columns begin {{}}; "
                f"{lister} lists them all",
                names,
            )
        )
    return target


MAX_AUTO_CLASSES = 10  # a target of whole numbers with at most this many values is classification


def infer_task(y: pd.Series, task: str, target: str, where: str = "the table") -> tuple[str, str]:
    """The kind of problem the target asks for -> (task, why: "" when data.task gave it).

    Text, or whole numbers with few distinct values (0/1, 1-5: at most MAX_AUTO_CLASSES, each seen five
    times on average), is classification; other numbers are regression. data.task overrides."""
    if task not in ("auto", "classification", "regression"):
        raise UserError(f"data.task '{task}' is not one of auto, classification, regression")
    values = y.dropna()
    if values.empty:
        raise UserError(f"target column '{target}' has no values (all missing); pick another --target")
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    reason = ""
    if task == "auto":
        task, reason = _auto_task(values, numeric)
    if task == "regression":
        if not numeric:
            bad = _first_non_numeric(values)
            raise UserError(
                f"target '{target}' is not numeric (e.g. {bad!r}) so it cannot be a regression target; "
                "use --set data.task=classification or pick a numeric --target"
            )
        if not np.isfinite(values.to_numpy(dtype=np.float64)).all():
            raise UserError(f"target '{target}' has infinite values; fix or remove those rows")
    elif values.nunique() < 2:
        raise UserError(
            f"target '{target}' of {where} has a single class ({values.dropna().tolist()[:1] or ['none']}); "
            "classification needs at least two"
        )
    return task, reason


def _auto_task(values: pd.Series, numeric: bool) -> tuple[str, str]:
    distinct = int(values.nunique())
    if not numeric:
        return "classification", f"{distinct} distinct values, not numbers"
    arr = values.to_numpy(dtype=np.float64)
    whole = bool(np.isfinite(arr).all() and (arr == np.round(arr)).all())
    if whole and (distinct == 2 or (distinct <= MAX_AUTO_CLASSES and len(arr) >= 5 * distinct)):
        return "classification", f"{distinct} distinct whole numbers"
    kind = "whole numbers" if whole else "numbers"
    return "regression", f"{distinct:,} distinct {kind}"


def type_column(s: pd.Series, name: str, categorical: str, n_rows: int, keep: bool = False) -> Column:
    """One column -> its Column plan entry; `keep`: used even where kindling would leave it out
    (an identifier, rare codes, free text), refused only when it holds no value or one."""
    n_missing = int(s.isna().sum())
    values = s.dropna()
    if values.empty:
        if keep:
            raise UserError(
                f"column '{name}' has no values (all missing), so it cannot be used; remove it from data.keep"
            )
        return Column(name, "dropped", "dropped: empty", n_missing)
    if pd.api.types.is_bool_dtype(values):
        return Column(name, "numeric", "0/1, standardised", n_missing)
    if pd.api.types.is_datetime64_any_dtype(values):
        return Column(name, "date", "date features (year, month, day, weekday, season)", n_missing)
    if pd.api.types.is_numeric_dtype(values):
        column = _type_numeric(values, name, n_missing, keep)
    else:
        column = _type_text(values.astype(str).str.strip(), name, categorical, n_rows, keep)
    if keep and column.kind == "dropped":  # only a constant is left out whatever the flags say
        raise UserError(
            f"column '{name}' holds one value in every row, so it cannot inform the model; remove it from data.keep"
        )
    return column


def _type_numeric(values: pd.Series, name: str, n_missing: int, keep: bool = False) -> Column:
    arr = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(values.index[np.flatnonzero(bad)[0]]) + 1
        raise UserError(
            f"column '{name}' has infinite values (row {row}: {arr[bad][0]}); fix those cells or drop the column with --set data.drop={name}"
        )
    if arr.min() == arr.max():  # cheaper than nunique() on 100k floats
        return Column(name, "dropped", f"dropped: constant ({values.iloc[0]})", n_missing)
    if not keep and _id_like_numbers(values, name):
        return Column(
            name,
            "dropped",
            f"dropped: ID-like (unique integers; --keep {shlex.quote(name)} uses it)",
            n_missing,
        )
    return Column(name, "numeric", "standardised", n_missing)


def _type_text(values: pd.Series, name: str, categorical: str, n_rows: int, keep: bool) -> Column:
    n_missing = n_rows - len(values)
    marked = ~values.str.contains(r"[^\W_]", regex=True)  # '?', '-': no letter or digit
    note, options = "", {}
    if marked.any() and not marked.all():  # markers beside values: read as missing cells
        shown = ", ".join(sorted(map(repr, values[marked].unique()[:3])))
        note, options = f"; {shown} read as missing", {"markers": True}
        values, n_missing = values[~marked], n_missing + int(marked.sum())
    numbers = numbers_in(values)
    if numbers is not None:
        handling, unread = numbers
        return Column(name, "numeric", handling + note, n_missing + unread, options={"coerce": True})
    if values.nunique() <= 1:
        return Column(name, "dropped", f"dropped: constant ({values.iloc[0]!r})", n_missing)
    if _looks_like_dates(values):
        return Column(name, "date", "date features (year, month, day, weekday, season)", n_missing)
    kind, handling, more = type_codes(values, name, categorical, keep, n_rows)
    if kind == "dropped":
        return Column(name, kind, handling, n_missing)
    return Column(name, kind, handling + note, n_missing, options={**more, **options})


def _id_like_numbers(values: pd.Series, name: str) -> bool:
    if not pd.api.types.is_integer_dtype(values) or values.nunique() != len(values) or len(values) < 20:
        return False
    if ID_NAME.search(name):
        return True
    steps = np.diff(np.sort(values.to_numpy()))
    return bool((steps == 1).all())  # 0, 1, 2, ... : a row number


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.iloc[:200]
    if (
        not sample.str.contains(r"\d", regex=True).all()
        or not sample.str.contains(r"[-/:.]", regex=True).all()
    ):
        return False
    parsed = parse_dates(sample)
    return bool(parsed.notna().mean() >= 0.9)


def parse_dates(values: pd.Series) -> pd.Series:
    """Strings -> datetimes (NaT where a cell is not a date); the same rule at fit and predict time."""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": handled by the per-cell fallback
        try:
            parsed = pd.to_datetime(values, errors="coerce")  # one format, inferred from the first cell: fast
            if parsed.notna().sum() < 0.9 * values.notna().sum():
                parsed = pd.to_datetime(values, errors="coerce", format="mixed")  # cell by cell: slow
        except (ValueError, TypeError, OverflowError):
            return pd.Series(pd.NaT, index=values.index)
    return pd.Series(parsed, index=values.index)


def _ymd_triple(frame: pd.DataFrame, names: list[str]) -> list[str] | None:
    """Columns named year, month, day (any case) holding a valid date in every complete row."""
    lower = {n.lower(): n for n in names}
    if not all(k in lower for k in YMD):
        return None
    cols = [lower[k] for k in YMD]
    parts = frame[cols].apply(pd.to_numeric, errors="coerce").dropna()
    if parts.empty:
        return None
    dates = pd.to_datetime(
        {"year": parts.iloc[:, 0], "month": parts.iloc[:, 1], "day": parts.iloc[:, 2]}, errors="coerce"
    )
    return cols if dates.notna().all() else None


def _check_missing(plan: Plan, policy: str) -> None:
    holes = [c for c in plan.features if c.missing]
    if policy == "refuse" and holes:
        listed = ", ".join(f"{c.name} ({c.missing})" for c in holes[:8])
        raise UserError(
            f"missing values in {listed} and data.missing is refuse; fill them, drop those columns, "
            "or use --set data.missing=impute"
        )
    for c in holes:
        c.handling += ", missing imputed + flag"


def _first_non_numeric(values: pd.Series):
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna()]
    return bad.iloc[0] if len(bad) else values.iloc[0]


def _within(template: str, names: list[str]) -> str:
    """`template` with the first few `names` in its `{}`, as many as keep the line under MAX_MESSAGE
    (the CLI's `kindling: ` included): long paths leave room for fewer."""
    room = MAX_MESSAGE - len("kindling: ") - len(template.format(""))
    return template.format(_listed(names, 8, max(0, min(140, room - 20))))


def _listed(names: list[str], limit: int = 30, chars: int | None = None) -> str:
    """The first `limit` names (each cut to 40 characters, all of them to about `chars`), and how many."""
    shown = [n if len(n) <= 40 else n[:37] + "..." for n in map(str, names[:limit])]
    while chars is not None and len(shown) > 1 and len(", ".join(shown)) > chars:
        shown.pop()
    text = ", ".join(shown)
    return text + (f", ... ({len(names)} in all)" if len(names) > len(shown) else "")


def _describe_dropped(plan: Plan) -> str:
    dropped = [f"{c.name}: {c.handling}" for c in plan.columns if c.kind == "dropped"]
    return "; ".join(dropped[:6]) or "no other columns"


MAX_PLAN_ROWS = 40  # a wider table is summarised: 1,000 columns would drown the run's own lines


def format_plan(plan: Plan, where: str, spec: str = "", width: int | None = None) -> str:
    """The typing table shown before training: column, inferred type, handling, missing count.
    Past MAX_PLAN_ROWS columns the rest is counted, and `kindling data SPEC --json` lists them all.
    A table wider than `width` (a narrow terminal) is shown compactly: the columns grouped by handling."""
    table = _plan_table(plan, where, spec)
    rows = [line for line in table.splitlines()[1:] if not line.startswith("  note: ")]  # not the path
    if width is None or max(len(line) for line in rows) <= width:
        return table
    return _compact_plan(plan, where, width)


def _compact_plan(plan: Plan, where: str, width: int) -> str:
    """One wrapped paragraph per handling: `standardised (30): mean radius, mean texture, ...`."""

    groups: dict[str, list[str]] = {}
    for c in plan.columns:
        if c.kind != "target":
            name = "+".join(c.sources) if c.sources else c.name
            groups.setdefault(c.handling, []).append(f"{name} ({c.missing} missing)" if c.missing else name)
    lines = [f"columns of {where} ({plan.task}, target '{plan.target}'):"]
    for handling, names in groups.items():
        text = f"{handling} ({len(names)}): " + ", ".join(names)
        lines += textwrap.wrap(text, max(20, width - 2), initial_indent="  ", subsequent_indent="    ")
    lines += [f"  note: {n}" for n in plan.notes]
    return "\n".join(lines)


def _plan_table(plan: Plan, where: str, spec: str) -> str:
    rows = [("column", "type", "handling", "missing")]
    shown = plan.columns if len(plan.columns) <= MAX_PLAN_ROWS else plan.columns[: MAX_PLAN_ROWS - 1]
    for c in shown:
        kind = {"ymd": "date (y/m/d)", "embed": "category"}.get(c.kind, c.kind)
        if c.kind == "dropped":
            kind = "-"
        name = "+".join(c.sources) if c.sources else c.name
        rows.append((name, kind, c.handling, str(c.missing)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"columns of {where} ({plan.task}, target '{plan.target}'):"]
    lines += [f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>7}" for r in rows]
    if len(shown) < len(plan.columns):
        more = len(plan.columns) - len(shown)
        lines.append(f"  … and {more} more columns; see `kindling data {spec or where} --json`")
    lines += [f"  note: {n}" for n in plan.notes]
    return "\n".join(lines)
