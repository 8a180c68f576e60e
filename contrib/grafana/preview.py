"""Preview a Grafana dashboard without Grafana: every panel's PromQL asked of a real Prometheus, drawn.

Grafana is not packaged for Debian, and a dashboard whose queries were only ever checked by name
can still be wrong (a bad vector match, a table sorted by a column it does not have). This reads
the dashboard JSON, expands its variables, sends each target's query to Prometheus' HTTP API
(instant or range, as the target asks) and draws the answers where the panel's ``gridPos`` puts
them: one self-contained HTML page, no script, no fonts, nothing fetched.

It is a preview, not Grafana: it draws only the panel types, units, reducers, thresholds,
value mappings, overrides and transformations the shipped dashboard uses, and refuses anything
else by name rather than drawing it wrongly. Every panel problem (a query Prometheus refused, an
option it cannot honour) is listed on the page and on stderr, and makes the exit status 1.

    python contrib/grafana/preview.py --prometheus http://127.0.0.1:9090 --from now-6h -o preview.html
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).with_name("fleet-dashboard.json")
STYLE = Path(__file__).with_name("preview.css").read_text()
#: Grafana's grid: 24 columns, rows 30 px high, 8 px between cells.
COLUMNS, ROW_PX, GAP_PX, PAD_PX, TITLE_PX, LEGEND_PX = 24, 30, 8, 16, 30, 24
#: Grafana's dark theme names for the colours a dashboard may use by name.
NAMED_COLOURS = {
    "green": "#73bf69",
    "red": "#f2495c",
    "orange": "#ff9830",
    "yellow": "#fade2a",
    "blue": "#5794f2",
    "purple": "#b877d9",
    "text": "#ccccdc",
}
CLASSIC_PALETTE = ("#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a6", "#705da0")
NO_DATA = "No data"


class PreviewError(Exception):
    """A dashboard, a query or an option the preview cannot honour; the message names it."""


# --- time and variables ---------------------------------------------------------------------------

_RELATIVE = re.compile(r"now(?:-(\d+)([smhdw]))?")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: float) -> float:
    """Grafana's ``now`` / ``now-30d`` (s, m, h, d, w), or seconds since the epoch."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative:
        amount, unit = relative.groups()
        return now - (int(amount) * _UNIT_SECONDS[unit] if amount else 0)
    try:
        return float(text)
    except ValueError:
        raise PreviewError(
            f"time {text!r}: write now, now-6h (s, m, h, d, w) or seconds since the epoch"
        ) from None


def variable_values(dashboard: Mapping[str, Any], chosen: Mapping[str, list[str]]) -> dict[str, str]:
    """Each query variable's text in PromQL: the values chosen, else All (its ``allValue``)."""
    values: dict[str, str] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable["name"]
        if variable["type"] == "datasource":
            continue
        if variable["type"] != "query":
            raise PreviewError(f"variable {name!r}: type {variable['type']!r} is not drawn by the preview")
        picked = chosen.get(name)
        if picked:
            escaped = [regex_literal(value) for value in picked]
            values[name] = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
        elif variable.get("includeAll") and variable.get("allValue"):
            values[name] = variable["allValue"]
        else:
            raise PreviewError(f"variable {name!r} has no All value: choose one with --var {name}=VALUE")
    unknown = set(chosen) - set(values)
    if unknown:
        raise PreviewError(f"--var {sorted(unknown)[0]}: the dashboard has no such query variable")
    return values


def regex_literal(value: str) -> str:
    """``value`` matched literally by a PromQL regex: each special character escaped with a
    backslash that is itself escaped, as the text sits inside a double-quoted string."""
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]+?.()|]", lambda m: "\\\\" + m.group(0), value)


def expand(expr: str, values: Mapping[str, str], builtins: Mapping[str, str]) -> str:
    """``$name``, ``${name}`` and ``[[name]]`` replaced; an unknown variable is an error, not left in."""

    def one(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in values:
            return values[name]
        if name in builtins:
            return builtins[name]
        raise PreviewError(f"query {expr!r} uses ${name}, which the preview does not know")

    return re.sub(r"\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)", one, expr)


# --- Prometheus -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]]  # (seconds since the epoch, value), oldest first


class Prometheus:
    """Prometheus' HTTP API (``/api/v1/query``, ``/api/v1/query_range``), read-only."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def instant(self, expr: str, at: float) -> list[Series]:
        return self._ask("query", {"query": expr, "time": f"{at:.3f}"})

    def over_time(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        return self._ask(
            "query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        )

    def _ask(self, endpoint: str, params: Mapping[str, str]) -> list[Series]:
        url = f"{self.base_url}/api/v1/{endpoint}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as error:  # Prometheus answers a bad query with 400 and a JSON error
            raise PreviewError(f"Prometheus refused {params['query']!r}: {_why(error)}") from None
        except ValueError:
            raise PreviewError(f"{self.base_url} did not answer with JSON: is it Prometheus?") from None
        except (urllib.error.URLError, OSError) as error:
            raise PreviewError(f"Prometheus at {self.base_url} did not answer: {error}") from None
        try:
            return self._series(body["data"])
        except (KeyError, TypeError, ValueError, IndexError):
            raise PreviewError(f"{self.base_url} did not answer as Prometheus' HTTP API does") from None

    @staticmethod
    def _series(data: Mapping[str, Any]) -> list[Series]:
        if data["resultType"] == "scalar":
            return [Series({}, [(float(data["result"][0]), float(data["result"][1]))])]
        if data["resultType"] == "vector":
            return [
                Series(item["metric"], [(float(item["value"][0]), float(item["value"][1]))])
                for item in data["result"]
            ]
        return [
            Series(item["metric"], [(float(at), float(value)) for at, value in item["values"]])
            for item in data["result"]
        ]


def _why(error: urllib.error.HTTPError) -> str:
    """Prometheus' own error text, else the HTTP status (a proxy's HTML page is not repeated)."""
    try:
        return str(json.loads(error.read())["error"])
    except (ValueError, KeyError, TypeError, OSError):
        return f"HTTP {error.code} {error.reason}"


# --- what panels show -----------------------------------------------------------------------------


def format_value(value: float, unit: str, decimals: int | None) -> str:
    """A value as Grafana writes it in ``unit`` (short, percentunit, s)."""
    if math.isnan(value):
        return "NaN"
    if unit == "percentunit":
        return f"{_number(value * 100, decimals)}%"
    if unit == "s":
        return _seconds(value, decimals)
    if unit in ("short", "none", ""):
        for scale, suffix in ((1e9, " Bil"), (1e6, " Mil"), (1e3, " K")):
            if abs(value) >= scale:
                return f"{_number(value / scale, decimals if decimals is not None else 2)}{suffix}"
        return _number(value, decimals)
    raise PreviewError(f"unit {unit!r} is not drawn by the preview")


#: Grafana's ``s`` unit: the first scale whose limit the value is under (a year is 365.2425 days).
_SECOND_SCALES = (
    (1e-6, 1e-9, "ns"),
    (1e-3, 1e-6, "µs"),
    (1, 1e-3, "ms"),
    (60, 1, "s"),
    (3600, 60, "min"),
    (86400, 3600, "hour"),
    (604800, 86400, "day"),
    (31556952, 604800, "week"),
    (math.inf, 31556952, "year"),
)


def _seconds(value: float, decimals: int | None) -> str:
    if value == 0:
        return f"{_number(0.0, decimals)} s"
    for limit, size, name in _SECOND_SCALES:
        if abs(value) < limit:
            shown = decimals if decimals is not None else (0 if size < 1 else 1)
            return f"{_number(value / size, shown)} {name}"
    return f"{_number(value, decimals)} s"  # ±inf


def _number(value: float, decimals: int | None) -> str:
    if decimals is None:
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.{decimals}f}"


_CSS_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|rgba?\([0-9., ]+\)")


def colour(name: str) -> str:
    """A colour safe in a style attribute: a Grafana name, ``#hex`` or ``rgb()``; anything else refused."""
    if _CSS_COLOUR.fullmatch(name):
        return name
    if name in NAMED_COLOURS:
        return NAMED_COLOURS[name]
    raise PreviewError(f"colour {name!r} is not one the preview knows")


def threshold_colour(value: float, thresholds: Mapping[str, Any]) -> str:
    """The colour of the highest step at or below ``value`` (the first step's ``null`` is -∞)."""
    if thresholds.get("mode", "absolute") != "absolute":
        raise PreviewError(f"thresholds mode {thresholds['mode']!r} is not drawn by the preview")
    picked = thresholds["steps"][0]["color"]
    for step in thresholds["steps"][1:]:
        if value >= step["value"]:
            picked = step["color"]
    return colour(picked)


REDUCERS: dict[str, Callable[[Sequence[float]], float]] = {
    "lastNotNull": lambda values: values[-1],
    "last": lambda values: values[-1],
    "first": lambda values: values[0],
    "max": max,
    "min": min,
    "mean": lambda values: sum(values) / len(values),
    "sum": sum,
}


def reduce(points: Sequence[tuple[float, float]], options: Mapping[str, Any]) -> float:
    calcs = options.get("reduceOptions", {}).get("calcs", ["lastNotNull"])
    if len(calcs) != 1 or calcs[0] not in REDUCERS:
        raise PreviewError(f"reducer {calcs} is not drawn by the preview")
    values = [value for _, value in points if not math.isnan(value)]
    return REDUCERS[calcs[0]](values) if values else math.nan


def legend(target: Mapping[str, Any], labels: Mapping[str, str], expr: str) -> str:
    """``legendFormat`` with ``{{label}}`` filled in; without one, the series as Prometheus names it."""
    template = target.get("legendFormat") or ""
    if template and template != "__auto":
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    if not shown:
        return expr
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items()))
    return f"{labels.get('__name__', '')}{{{inner}}}"


def override_colour(name: str, overrides: Iterable[Mapping[str, Any]]) -> str | None:
    """A ``byName`` / ``byRegexp`` override's fixed colour for the field called ``name``."""
    found = None
    for override in overrides:
        matcher = override["matcher"]
        if matcher["id"] == "byName":
            hit = matcher["options"] == name
        elif matcher["id"] == "byRegexp":
            hit = re.search(matcher["options"], name) is not None  # Grafana: RegExp.test
        else:
            raise PreviewError(f"override matcher {matcher['id']!r} is not drawn by the preview")
        for prop in override["properties"]:
            if prop["id"] != "color" or prop["value"].get("mode") != "fixed":
                raise PreviewError(f"override property {prop['id']!r} is not drawn by the preview")
            if hit:
                found = colour(prop["value"]["fixedColor"])
    return found


# --- panels ---------------------------------------------------------------------------------------


@dataclass
class Window:
    start: float
    end: float
    variables: dict[str, str]

    @property
    def builtins(self) -> dict[str, str]:
        span = max(1, round(self.end - self.start))
        return {"__range": f"{span}s", "__range_s": str(span)}


@dataclass
class PanelView:
    """One panel as drawn: what it showed (for a reader of the page, and for tests) and its HTML."""

    title: str
    kind: str
    texts: list[str] = field(default_factory=list)  # the values or rows it shows, as shown
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    body: str = ""

    @property
    def empty(self) -> bool:
        return not self.texts and not self.series


@dataclass
class Preview:
    title: str
    panels: list[PanelView]
    html: str

    def panel(self, title: str) -> PanelView:
        [found] = [panel for panel in self.panels if panel.title == title]
        return found

    @property
    def problems(self) -> list[str]:
        return [f"{panel.title}: {problem}" for panel in self.panels for problem in panel.problems]


def _size(grid: Mapping[str, int], width: int) -> tuple[float, float]:
    column = (width - 2 * PAD_PX - (COLUMNS - 1) * GAP_PX) / COLUMNS
    return grid["w"] * column + (grid["w"] - 1) * GAP_PX, grid["h"] * ROW_PX + (grid["h"] - 1) * GAP_PX


def _queries(panel: Mapping[str, Any], window: Window) -> list[tuple[Mapping[str, Any], str]]:
    return [
        (target, expand(target["expr"], window.variables, window.builtins))
        for target in panel.get("targets", [])
        if not target.get("hide")
    ]


def draw_stat(panel: Mapping[str, Any], prom: Prometheus, window: Window, view: PanelView) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    options = panel.get("options", {})
    if options.get("colorMode", "value") not in ("background", "value"):
        raise PreviewError(f"stat colorMode {options['colorMode']!r} is not drawn by the preview")
    cells = []
    for target, expr in _queries(panel, window):
        for series in _asked(prom, target, expr, window):
            value = reduce(series.points, options)
            text = _mapped(value, defaults.get("mappings", [])) or format_value(
                value, defaults.get("unit", "short"), defaults.get("decimals")
            )
            shade = threshold_colour(value, defaults["thresholds"])
            style = f"background:{shade}" if options.get("colorMode") == "background" else f"color:{shade}"
            view.texts.append(text)
            cells.append(f'<div class="stat" style="{style}"><span>{html.escape(text)}</span></div>')
    view.body = "".join(cells)


def _asked(prom: Prometheus, target: Mapping[str, Any], expr: str, window: Window) -> list[Series]:
    """An instant query at the end of the range, or a range query, as the target asks."""
    if target.get("instant"):
        return prom.instant(expr, window.end)
    return prom.over_time(expr, window.start, window.end, _step(window, 300))


def _mapped(value: float, mappings: Iterable[Mapping[str, Any]]) -> str | None:
    for mapping in mappings:
        if mapping["type"] != "value":
            raise PreviewError(f"value mapping type {mapping['type']!r} is not drawn by the preview")
        key = str(int(value)) if value.is_integer() else repr(value)
        if key in mapping["options"]:
            text: str = mapping["options"][key]["text"]
            return text
    return None


def _step(window: Window, points: int) -> float:
    return max(1.0, math.ceil((window.end - window.start) / points))


def draw_timeseries(
    panel: Mapping[str, Any], prom: Prometheus, window: Window, view: PanelView, size: tuple[float, float]
) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    custom = defaults.get("custom", {})
    if custom.get("drawStyle", "line") != "line":
        raise PreviewError(f"drawStyle {custom['drawStyle']!r} is not drawn by the preview")
    stacked = custom.get("stacking", {}).get("mode", "none")
    if stacked not in ("none", "normal"):
        raise PreviewError(f"stacking {stacked!r} is not drawn by the preview")
    width, height = size[0], size[1] - TITLE_PX - LEGEND_PX
    step = _step(window, max(10, int(width)))
    lines: list[tuple[str, list[tuple[float, float]]]] = []
    for target, expr in _queries(panel, window):
        for series in prom.over_time(expr, window.start, window.end, step):
            points = [(at, value) for at, value in series.points if math.isfinite(value)]  # NaN, ±Inf: gaps
            if points:
                lines.append((legend(target, series.labels, expr), points))
    if not lines:
        return
    for name, points in lines:
        view.series[name] = points
    unit, decimals = defaults.get("unit", "short"), defaults.get("decimals")
    colours = [
        override_colour(name, panel["fieldConfig"].get("overrides", []))
        or CLASSIC_PALETTE[i % len(CLASSIC_PALETTE)]
        for i, (name, _) in enumerate(lines)
    ]
    drawn = (
        _stack(lines, step)
        if stacked == "normal"
        else [(points, [(t, 0.0) for t, _ in points]) for _, points in lines]
    )
    top = max((value for upper, _ in drawn for _, value in upper), default=0.0)
    axis = _nice_axis(top)
    chart = Chart(window.start, window.end, axis, width, height, step)
    shapes = chart.axes(lambda value: format_value(value, unit, decimals))
    fill = custom.get("fillOpacity", 0) / 100
    for (upper, lower), shade in zip(drawn, colours, strict=True):
        shapes += chart.line(upper, lower, shade, fill)
    keys = "".join(
        f'<span class="key"><i style="background:{shade}"></i>{html.escape(name)}</span>'
        for (name, _), shade in zip(lines, colours, strict=True)
    )
    svg = f'<svg width="{width:.0f}" height="{height:.0f}" role="img">{shapes}</svg>'
    view.body = f'{svg}<div class="legend">{keys}</div>'


def _stack(
    lines: Sequence[tuple[str, list[tuple[float, float]]]], step: float
) -> list[tuple[list[tuple[float, float]], list[tuple[float, float]]]]:
    """Grafana's normal stacking: each series drawn on top of the ones before it, at the same times."""
    below: dict[float, float] = {}
    drawn = []
    for _, points in lines:
        lower = [(at, below.get(at, 0.0)) for at, _ in points]
        upper = [(at, below.get(at, 0.0) + value) for at, value in points]
        below.update(dict(upper))
        drawn.append((upper, lower))
    return drawn


def _nice_axis(top: float) -> list[float]:
    """0 and four evenly spaced ticks up to a round number at or above ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    tick = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [tick * i for i in range(5)]


@dataclass
class Chart:
    """Coordinates of a time chart: a left axis of values, a bottom axis of UTC times."""

    start: float
    end: float
    ticks: list[float]
    width: float
    height: float
    step: float
    left: float = 64
    bottom: float = 22

    def x(self, at: float) -> float:
        return self.left + (at - self.start) / max(1e-9, self.end - self.start) * (self.width - self.left - 8)

    def y(self, value: float) -> float:
        return 6 + (1 - value / self.ticks[-1]) * (self.height - self.bottom - 6)

    def axes(self, label: Callable[[float], str]) -> str:
        parts = []
        for tick in self.ticks:
            y = self.y(tick)
            parts.append(
                f'<line class="grid" x1="{self.left}" x2="{self.width - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
            )
            parts.append(
                f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{html.escape(label(tick))}</text>"
            )
        clock = (
            "%H:%M:%S"
            if self.end - self.start <= 3600
            else "%H:%M"
            if self.end - self.start <= 86400
            else "%m-%d %H:%M"
        )
        for i in range(5):
            at = self.start + (self.end - self.start) * i / 4
            anchor = "start" if i == 0 else "end" if i == 4 else "middle"
            stamp = datetime.fromtimestamp(at, UTC).strftime(clock)
            parts.append(
                f'<text x="{self.x(at):.1f}" y="{self.height - 4}" text-anchor="{anchor}">{stamp}</text>'
            )
        return "".join(parts)

    def line(
        self,
        upper: Sequence[tuple[float, float]],
        lower: Sequence[tuple[float, float]],
        shade: str,
        fill: float,
    ) -> str:
        """The series as runs of consecutive points (a gap of more than two steps breaks the line)."""
        parts = []
        for run in self._runs(list(zip(upper, lower, strict=True))):
            top = " ".join(f"{self.x(at):.1f},{self.y(value):.1f}" for (at, value), _ in run)
            if fill:
                base = " ".join(f"{self.x(at):.1f},{self.y(value):.1f}" for _, (at, value) in reversed(run))
                parts.append(
                    f'<polygon points="{top} {base}" fill="{shade}" fill-opacity="{fill}" stroke="none"/>'
                )
            parts.append(f'<polyline points="{top}" fill="none" stroke="{shade}" stroke-width="1.5"/>')
        return "".join(parts)

    def _runs(self, pairs: list[Any]) -> list[list[Any]]:
        runs: list[list[Any]] = []
        for pair in pairs:
            if runs and pair[0][0] - runs[-1][-1][0][0] <= 2 * self.step:
                runs[-1].append(pair)
            else:
                runs.append([pair])
        return runs


def draw_bargauge(panel: Mapping[str, Any], prom: Prometheus, window: Window, view: PanelView) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    options = panel.get("options", {})
    if options.get("orientation", "horizontal") != "horizontal":
        raise PreviewError(f"bar gauge orientation {options['orientation']!r} is not drawn by the preview")
    bars: list[tuple[str, float]] = []
    for target, expr in _queries(panel, window):
        for series in _asked(prom, target, expr, window):
            bars.append((legend(target, series.labels, expr), reduce(series.points, options)))
    unit, decimals = defaults.get("unit", "short"), defaults.get("decimals")
    low = defaults.get("min", min((value for _, value in bars), default=0.0))
    high = defaults.get("max", max((value for _, value in bars), default=1.0))
    rows = []
    for name, value in bars:
        shade = override_colour(name, panel["fieldConfig"].get("overrides", [])) or threshold_colour(
            value, defaults["thresholds"]
        )
        share = 0.0 if high <= low else min(1.0, max(0.0, (value - low) / (high - low)))
        paint = (
            f"linear-gradient(90deg, {shade}66, {shade})"
            if options.get("displayMode") == "gradient"
            else shade
        )
        text = format_value(value, unit, decimals)
        view.texts.append(f"{name}: {text}")
        rows.append(
            f'<div class="bar"><span class="name">{html.escape(name)}</span>'
            f'<span class="track"><i style="width:{share * 100:.1f}%;background:{paint}"></i></span>'
            f'<span class="value" style="color:{shade}">{html.escape(text)}</span></div>'
        )
    view.body = "".join(rows)


def draw_table(panel: Mapping[str, Any], prom: Prometheus, window: Window, view: PanelView) -> None:
    rows: list[dict[str, str]] = []
    for target, expr in _queries(panel, window):
        if target.get("format") != "table" or not target.get("instant"):
            raise PreviewError("a table's target must be an instant query in table format")
        for series in prom.instant(expr, window.end):
            at, value = series.points[-1]
            when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")
            rows.append({"Time": when, **series.labels, "Value": _number(value, None)})
    columns = ["Time", *sorted({k for row in rows for k in row} - {"Time", "Value"}), "Value"]
    for transformation in panel.get("transformations", []):
        if transformation["id"] != "organize":
            raise PreviewError(f"transformation {transformation['id']!r} is not drawn by the preview")
        columns, renamed = _organize(columns, transformation["options"])
        rows = [{renamed.get(key, key): value for key, value in row.items()} for row in rows]
    if not rows:
        return
    for sort in reversed(panel.get("options", {}).get("sortBy", [])):
        if sort["displayName"] not in columns:
            view.problems.append(
                f"sorts by {sort['displayName']!r}, which is not one of its columns {columns}"
            )
            continue
        rows.sort(key=lambda row: row.get(sort["displayName"], ""), reverse=bool(sort.get("desc")))
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(row.get(name, ''))}</td>" for name in columns) + "</tr>"
        for row in rows
    )
    view.texts = [" ".join(row.get(name, "") for name in columns) for row in rows]
    view.body = (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def _organize(columns: list[str], options: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Grafana's "organize fields": drop the excluded, order by ``indexByName``, rename (the new
    column names, and the renames for the rows)."""
    renamed: dict[str, str] = {k: v for k, v in (options.get("renameByName") or {}).items() if v}
    kept = [name for name in columns if not options.get("excludeByName", {}).get(name)]
    order = options.get("indexByName", {})
    placed = sorted(enumerate(kept), key=lambda pair: (order.get(pair[1], len(order)), pair[0]))
    return [renamed.get(name, name) for _, name in placed], renamed


#: Options that change what a panel shows and that the preview does not draw: refused when set.
UNDRAWN_PANEL_KEYS = ("timeFrom", "timeShift", "repeat", "maxDataPoints", "interval", "libraryPanel")
UNDRAWN_TARGET_KEYS = ("interval", "intervalFactor", "exemplar")
COLOUR_MODES = {"stat": "thresholds", "bargauge": "thresholds", "timeseries": "palette-classic"}


def refuse_undrawn_options(panel: Mapping[str, Any]) -> None:
    """Options this preview would silently get wrong, named instead (the first one found)."""
    for key in UNDRAWN_PANEL_KEYS:
        if panel.get(key):
            raise PreviewError(f"panel option {key!r} is not drawn by the preview")
    for target in panel.get("targets", []):
        for key in UNDRAWN_TARGET_KEYS:
            if target.get(key):
                raise PreviewError(f"target option {key!r} is not drawn by the preview")
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    options = panel.get("options", {})
    mode = defaults.get("color", {}).get("mode", COLOUR_MODES.get(panel["type"]))
    if panel["type"] in COLOUR_MODES and mode != COLOUR_MODES[panel["type"]]:
        raise PreviewError(f"colour mode {mode!r} is not drawn by the preview in a {panel['type']} panel")
    if defaults.get("noValue") is not None:
        raise PreviewError("option 'noValue' is not drawn by the preview")
    if options.get("reduceOptions", {}).get("values"):
        raise PreviewError("reduceOptions.values (every value) is not drawn by the preview")
    if panel["type"] == "stat" and options.get("textMode", "auto") not in ("auto", "value"):
        raise PreviewError(f"stat textMode {options['textMode']!r} is not drawn by the preview")
    if panel["type"] == "stat" and options.get("graphMode", "none") != "none":
        raise PreviewError(
            f"stat graphMode {options['graphMode']!r} (a sparkline) is not drawn by the preview"
        )
    if panel["type"] in ("stat", "table") and panel.get("fieldConfig", {}).get("overrides"):
        raise PreviewError(f"overrides in a {panel['type']} panel are not drawn by the preview")
    for mapping in defaults.get("mappings", []):
        if any("color" in result for result in mapping.get("options", {}).values()):
            raise PreviewError("a value mapping's colour is not drawn by the preview")


# --- the page -------------------------------------------------------------------------------------

DRAWERS = {"stat", "timeseries", "bargauge", "table"}


def render(
    dashboard: Mapping[str, Any],
    prom: Prometheus,
    *,
    start: float,
    end: float,
    chosen: Mapping[str, list[str]] | None = None,
    width: int = 1600,
    source: str = "",
) -> Preview:
    """Every panel of ``dashboard`` drawn from ``prom`` over ``start``..``end`` (seconds since the epoch)."""
    if end <= start:
        raise PreviewError("the time range is empty: --from must be before --to")
    window = Window(start, end, variable_values(dashboard, chosen or {}))
    views = []
    for panel in sorted(dashboard["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        view = PanelView(panel.get("title", ""), panel["type"])
        try:
            if panel["type"] not in DRAWERS:
                raise PreviewError(f"panel type {panel['type']!r} is not drawn by the preview")
            refuse_undrawn_options(panel)
            if panel["type"] == "stat":
                draw_stat(panel, prom, window, view)
            elif panel["type"] == "timeseries":
                draw_timeseries(panel, prom, window, view, _size(panel["gridPos"], width))
            elif panel["type"] == "bargauge":
                draw_bargauge(panel, prom, window, view)
            else:
                draw_table(panel, prom, window, view)
        except PreviewError as error:
            view.problems.append(str(error))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            view.problems.append(f"its JSON is not what the preview reads ({type(error).__name__}: {error})")
        views.append((panel, view))
    page = _page(dashboard, views, window, width, prom.base_url, source)
    return Preview(dashboard.get("title", ""), [view for _, view in views], page)


def _page(
    dashboard: Mapping[str, Any],
    views: list[tuple[Mapping[str, Any], PanelView]],
    window: Window,
    width: int,
    url: str,
    source: str,
) -> str:
    cells = []
    for panel, view in views:
        grid = panel["gridPos"]
        place = f"grid-column:{grid['x'] + 1}/span {grid['w']};grid-row:{grid['y'] + 1}/span {grid['h']}"
        inside = view.body or f'<div class="nodata">{NO_DATA}</div>'
        trouble = "".join(f'<p class="problem">{html.escape(problem)}</p>' for problem in view.problems)
        cells.append(
            f'<section class="panel kind-{html.escape(view.kind)}" style="{place}" '
            f'data-title="{html.escape(view.title)}" '
            f'title="{html.escape(panel.get("description", ""))}"><h2>{html.escape(view.title)}</h2>'
            f'<div class="body">{trouble}{inside}</div></section>'
        )
    clock = "%Y-%m-%d %H:%M:%S"
    chosen = ", ".join(f"{name} = {value}" for name, value in window.variables.items())
    subtitle = (
        f"Preview drawn by contrib/grafana/preview.py from {html.escape(source or 'the dashboard JSON')}, "
        f"not by Grafana. Data: Prometheus at {html.escape(url)}, "
        f"{datetime.fromtimestamp(window.start, UTC).strftime(clock)} to "
        f"{datetime.fromtimestamp(window.end, UTC).strftime(clock)} UTC; {html.escape(chosen)}."
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(dashboard.get("title", ""))} (preview)</title>
<style>{STYLE}</style></head>
<body style="width:{width}px">
<header><h1>{html.escape(dashboard.get("title", ""))}</h1><p>{subtitle}</p></header>
<main>{"".join(cells)}</main></body></html>
"""


# --- the command ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Draw a Grafana dashboard's panels from Prometheus, without Grafana (a preview).",
        epilog="example: python contrib/grafana/preview.py --prometheus http://127.0.0.1:9090 "
        "--from now-6h -o preview.html",
    )
    parser.add_argument(
        "--prometheus", required=True, help="Prometheus' base URL, e.g. http://127.0.0.1:9090"
    )
    parser.add_argument(
        "--dashboard", type=Path, default=DASHBOARD, help="the dashboard JSON (default: fleet's)"
    )
    parser.add_argument(
        "--from",
        dest="start",
        default=None,
        help="start: now-30d, now-6h, … or epoch seconds (default: the dashboard's)",
    )
    parser.add_argument("--to", dest="end", default=None, help="end (default: the dashboard's, usually now)")
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable's value (repeat for several); default All",
    )
    parser.add_argument("--width", type=int, default=1600, help="page width in CSS pixels (default 1600)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the HTML file to write")
    parser.add_argument(
        "--require-data", action="store_true", help="a panel with no data is a problem too (exit 1)"
    )
    args = parser.parse_args(argv)
    try:
        dashboard = json.loads(args.dashboard.read_text())
        now = time.time()
        start = parse_time(args.start or dashboard.get("time", {}).get("from", "now-6h"), now)
        end = parse_time(args.end or dashboard.get("time", {}).get("to", "now"), now)
        chosen: dict[str, list[str]] = {}
        for pair in args.var:
            name, sep, value = pair.partition("=")
            if not sep:
                raise PreviewError(f"--var {pair!r}: write NAME=VALUE")
            chosen.setdefault(name, []).append(value)
        preview = render(
            dashboard,
            Prometheus(args.prometheus),
            start=start,
            end=end,
            chosen=chosen,
            width=args.width,
            source=str(args.dashboard),
        )
    except (OSError, ValueError, KeyError, PreviewError) as error:
        print(f"preview: {error}", file=sys.stderr)
        return 2
    args.out.write_text(preview.html)
    empty = [panel.title for panel in preview.panels if panel.empty and not panel.problems]
    for title in empty:
        print(f"preview: {title}: {NO_DATA}", file=sys.stderr)
    for problem in preview.problems:
        print(f"preview: {problem}", file=sys.stderr)
    return 1 if preview.problems or (args.require_data and empty) else 0


if __name__ == "__main__":
    sys.exit(main())
