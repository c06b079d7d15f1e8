"""Charts drawn on the server as SVG (templates/_charts.html): the geometry is made here, the
markup there, the colours in static/css/reports.css. No script, no inline style.

Horizontal positions are percentages of the chart's width and vertical ones pixels, so a
chart fills any width (a phone's or a desk's) while its text keeps its real size."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

COLUMN_HEIGHT = 200  # the plot area of a column chart, in px
TOP = 22  # room above the tallest column for its value
BOTTOM = 40  # room below the plot for the day labels (two lines)
GUTTER = 7  # % of the width left of the columns, for the gridlines' numbers
MAX_DAY_LABELS = 7  # what fits under a phone-wide chart
VALUES_UP_TO = 14  # columns with their value written above (more: read the table)


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Column:
    x: float  # % of the width
    width: float  # %
    y: float  # px
    height: float  # px
    center: float  # %
    value: int
    value_label: str | None  # written above the column, or None
    day_label: tuple[str, str] | None  # written under it on two lines, or None


@dataclass(frozen=True)
class ColumnChart:
    height: float
    plot_bottom: float
    columns: list[Column]
    ticks: list[Tick]
    label: str  # the chart in one sentence (aria-label)
    gutter: float  # % left of the columns, where the gridlines' numbers are


@dataclass(frozen=True)
class BarRow:
    label: str
    value_text: str
    width: float  # % of the width
    y: float  # px: the label's baseline; the bar lies under it
    css: str


@dataclass(frozen=True)
class BarChart:
    height: float
    rows: list[BarRow]
    bar_height: float
    label: str


def nice_step(top: float, steps: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) so that about `steps` gridlines cover top."""
    if top <= 0:
        return 1
    raw = top / steps
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return max(1, factor * power)
    return 10 * power


def day_label(day: date, *, short_range: bool) -> tuple[str, str]:
    """("Tue", "24") within a week, else ("24", "Nov"): two short lines fit a phone."""
    return (f"{day:%a}", str(day.day)) if short_range else (str(day.day), f"{day:%b}")


def columns_per_day(per_day: list[tuple[date, int]], *, what: str) -> ColumnChart:
    """Conversations per day as columns, with gridlines at round numbers."""
    n = len(per_day)
    top_value = max((count for _, count in per_day), default=0)
    step = nice_step(top_value)
    top = max(step, math.ceil(top_value / step) * step)
    plot_bottom = TOP + COLUMN_HEIGHT
    ticks = [Tick(y=plot_bottom - COLUMN_HEIGHT * v / top, label=f"{v:g}")
             for v in _range_steps(top, step)]
    every = max(1, math.ceil(n / MAX_DAY_LABELS))
    slot = (100 - GUTTER) / n if n else 100
    columns = []
    for i, (day, count) in enumerate(per_day):
        height = COLUMN_HEIGHT * count / top
        # the last day is always labelled: it is today in the presets
        labelled = (n - 1 - i) % every == 0
        left = GUTTER + i * slot
        columns.append(Column(
            x=left + slot * 0.15, width=slot * 0.7, y=plot_bottom - height, height=height,
            center=left + slot / 2, value=count,
            value_label=str(count) if n <= VALUES_UP_TO else None,
            day_label=day_label(day, short_range=n <= 7) if labelled else None))
    total = sum(count for _, count in per_day)
    busiest = max(per_day, key=lambda p: p[1]) if per_day else None
    label = f"{what}: {total} in {n} day{'s' if n != 1 else ''}"
    if busiest and busiest[1]:
        label += f"; the busiest day was {busiest[0]:%A %d %B} with {busiest[1]}"
    return ColumnChart(height=plot_bottom + BOTTOM, plot_bottom=plot_bottom, columns=columns,
                       ticks=ticks, label=label + ".", gutter=GUTTER)


def _range_steps(top: float, step: float) -> list[float]:
    values, v = [], 0.0
    while v <= top + 1e-9:
        values.append(v)
        v += step
    return values


ROW_GAP = 48  # px from one row's label to the next's
BAR_HEIGHT = 14


def bars(rows: list[tuple[str, float | None, str, str]], *, what: str) -> BarChart:
    """Horizontal bars, one per (label, value, value text, css class), scaled to the largest;
    a value of None (nothing to measure) draws no bar."""
    top = max((v for _, v, _, _ in rows if v), default=0)
    drawn = []
    for i, (label, value, text, css) in enumerate(rows):
        width = 100 * value / top if value and top else 0
        drawn.append(BarRow(label=label, value_text=text, width=max(width, 0.5) if value else 0,
                            y=18 + i * ROW_GAP, css=css))
    description = "; ".join(f"{label}: {text}" for label, _, text, _ in rows)
    return BarChart(height=len(rows) * ROW_GAP + 4, rows=drawn, bar_height=BAR_HEIGHT,
                    label=f"{what}. {description}.")


def duration(seconds: float | None) -> str:
    """A duration as people say it: 45 s, 12 min, 3 h 5 min, 2 d 4 h; a dash for none."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
