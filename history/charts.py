"""Deliveries per hour as a stacked bar chart, drawn as inline SVG.

Pure: it takes hourly counts (from `history.selectors.delivery_hourly_counts`) and returns
markup; it imports no ORM and does no I/O, so any page can show the chart without a
JavaScript library or an asset from the internet. Every piece of text it writes is
escaped, which is why templates may output `chart.svg` with `|safe`.

Usage from a view:

    window = chart_window(now=timezone.now())
    counts = delivery_hourly_counts(webhook_id=webhook.pk, since=window.since)
    context["chart"] = hourly_chart(counts, window=window)

and in the template `{% include "history/hourly_chart.html" %}`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

HOURS_IN_A_WEEK = 7 * 24
SUCCESS_COLOUR = "#1b7f3b"
FAILURE_COLOUR = "#b3261e"

# Geometry in SVG user units. A slot is one hour; the bar leaves a gap so adjacent hours
# stay distinguishable when both are busy.
SLOT_WIDTH = 5
BAR_WIDTH = 4
PLOT_HEIGHT = 120
LEFT_MARGIN = 40
TOP_MARGIN = 10
BOTTOM_MARGIN = 20
RIGHT_MARGIN = 10


@dataclass(frozen=True)
class HourlyCount:
    hour: dt.datetime  # the start of the hour, aware
    success: int
    failure: int


@dataclass(frozen=True)
class ChartWindow:
    since: dt.datetime  # start of the first hour shown
    hours: int

    @property
    def until(self) -> dt.datetime:
        """End of the last hour shown (exclusive)."""
        return self.since + dt.timedelta(hours=self.hours)


@dataclass(frozen=True)
class HourlyChart:
    svg: str
    window: ChartWindow
    success_total: int
    failure_total: int


def chart_window(*, now: dt.datetime, hours: int = HOURS_IN_A_WEEK) -> ChartWindow:
    """The `hours` whole hours ending with the current one, in UTC."""
    current_hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return ChartWindow(since=current_hour - dt.timedelta(hours=hours - 1), hours=hours)


def _number(value: float) -> str:
    """Coordinates rounded to a tenth, without a trailing `.0`, so the markup is stable."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def _hour_title(hour: dt.datetime, success: int, failure: int) -> str:
    return f"{hour:%Y-%m-%d %H:%M} — {success} success, {failure} failure"


def hourly_chart(counts: Sequence[HourlyCount], *, window: ChartWindow) -> HourlyChart:
    """Success at the bottom and failure on top, one bar per hour of the window.

    Hours without deliveries still get a (transparent) hover target with their title, so
    every hour can be read, including the empty ones.
    """
    by_hour = {count.hour.astimezone(dt.UTC): count for count in counts}
    hours = [window.since + dt.timedelta(hours=index) for index in range(window.hours)]
    rows = [(hour, by_hour.get(hour, HourlyCount(hour=hour, success=0, failure=0))) for hour in hours]
    success_total = sum(count.success for _, count in rows)
    failure_total = sum(count.failure for _, count in rows)
    tallest = max((count.success + count.failure for _, count in rows), default=0)
    scale = PLOT_HEIGHT / tallest if tallest else 0.0

    width = LEFT_MARGIN + window.hours * SLOT_WIDTH + RIGHT_MARGIN
    height = TOP_MARGIN + PLOT_HEIGHT + BOTTOM_MARGIN
    baseline = TOP_MARGIN + PLOT_HEIGHT
    plot_right = LEFT_MARGIN + window.hours * SLOT_WIDTH
    summary = (
        f"Deliveries per hour from {window.since:%Y-%m-%d %H:%M} to {window.until:%Y-%m-%d %H:%M} UTC: "
        f"{success_total} success, {failure_total} failure"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hourly-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif" font-size="10">',
        f"<title>{escape(summary)}</title>",
        f'<line x1="{LEFT_MARGIN}" y1="{TOP_MARGIN}" x2="{plot_right}" y2="{TOP_MARGIN}" stroke="#ddd"/>',
        f'<line x1="{LEFT_MARGIN}" y1="{baseline}" x2="{plot_right}" y2="{baseline}" stroke="#999"/>',
        f'<text x="{LEFT_MARGIN - 4}" y="{TOP_MARGIN + 4}" text-anchor="end" fill="#666">{tallest}</text>',
        f'<text x="{LEFT_MARGIN - 4}" y="{baseline}" text-anchor="end" fill="#666">0</text>',
    ]
    for index, (hour, count) in enumerate(rows):
        x = LEFT_MARGIN + index * SLOT_WIDTH
        if hour.hour == 0:
            parts.append(f'<line x1="{x}" y1="{TOP_MARGIN}" x2="{x}" y2="{baseline}" stroke="#eee"/>')
            parts.append(f'<text x="{x}" y="{baseline + 14}" fill="#666">{hour:%m-%d}</text>')
        success_height = round(count.success * scale, 1)
        failure_height = round(count.failure * scale, 1)
        bar = [
            f'<g class="hour"><title>{escape(_hour_title(hour, count.success, count.failure))}</title>',
            f'<rect x="{x}" y="{TOP_MARGIN}" width="{SLOT_WIDTH}" height="{PLOT_HEIGHT}" fill="transparent"/>',
        ]
        if count.success:
            bar.append(
                f'<rect class="success" x="{x}" y="{_number(baseline - success_height)}" width="{BAR_WIDTH}" '
                f'height="{_number(success_height)}" fill="{SUCCESS_COLOUR}"/>'
            )
        if count.failure:
            bar.append(
                f'<rect class="failure" x="{x}" y="{_number(baseline - success_height - failure_height)}" '
                f'width="{BAR_WIDTH}" height="{_number(failure_height)}" fill="{FAILURE_COLOUR}"/>'
            )
        bar.append("</g>")
        parts.append("".join(bar))
    parts.append("</svg>")
    return HourlyChart(svg="\n".join(parts), window=window, success_total=success_total, failure_total=failure_total)
