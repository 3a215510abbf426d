"""The hourly chart as SVG: pure, so it is checked byte for byte without a database."""

import datetime as dt
from zoneinfo import ZoneInfo

from history.charts import ChartWindow, HourlyCount, chart_window, hourly_chart

UTC = dt.UTC


def test_the_window_is_the_last_168_whole_hours_in_utc_ending_with_the_current_one():
    window = chart_window(now=dt.datetime(2026, 12, 3, 14, 37, 12, tzinfo=ZoneInfo("Asia/Seoul")))

    assert window == ChartWindow(since=dt.datetime(2026, 11, 26, 6, 0, tzinfo=UTC), hours=168)
    assert window.until == dt.datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def test_three_hours_render_exactly_with_success_under_failure_and_a_title_per_hour():
    window = ChartWindow(since=dt.datetime(2026, 12, 3, 22, 0, tzinfo=UTC), hours=3)
    counts = [
        HourlyCount(hour=dt.datetime(2026, 12, 3, 22, 0, tzinfo=UTC), success=3, failure=1),
        # A count given in another zone is the same hour.
        HourlyCount(hour=dt.datetime(2026, 12, 4, 9, 0, tzinfo=ZoneInfo("Asia/Seoul")), success=0, failure=2),
        # Outside the window: not drawn, not counted.
        HourlyCount(hour=dt.datetime(2026, 12, 3, 21, 0, tzinfo=UTC), success=50, failure=50),
    ]

    chart = hourly_chart(counts, window=window)

    assert chart.success_total == 3
    assert chart.failure_total == 3
    assert chart.svg == "\n".join(
        [
            '<svg xmlns="http://www.w3.org/2000/svg" class="hourly-chart" width="65" height="150" viewBox="0 0 65 150" '
            'role="img" font-family="sans-serif" font-size="10">',
            "<title>Deliveries per hour from 2026-12-03 22:00 to 2026-12-04 01:00 UTC: 3 success, 3 failure</title>",
            '<line x1="40" y1="10" x2="55" y2="10" stroke="#ddd"/>',
            '<line x1="40" y1="130" x2="55" y2="130" stroke="#999"/>',
            '<text x="36" y="14" text-anchor="end" fill="#666">4</text>',
            '<text x="36" y="130" text-anchor="end" fill="#666">0</text>',
            '<g class="hour"><title>2026-12-03 22:00 — 3 success, 1 failure</title>'
            '<rect x="40" y="10" width="5" height="120" fill="transparent"/>'
            '<rect class="success" x="40" y="40" width="4" height="90" fill="#1b7f3b"/>'
            '<rect class="failure" x="40" y="10" width="4" height="30" fill="#b3261e"/></g>',
            '<g class="hour"><title>2026-12-03 23:00 — 0 success, 0 failure</title>'
            '<rect x="45" y="10" width="5" height="120" fill="transparent"/></g>',
            '<line x1="50" y1="10" x2="50" y2="130" stroke="#eee"/>',
            '<text x="50" y="144" fill="#666">12-04</text>',
            '<g class="hour"><title>2026-12-04 00:00 — 0 success, 2 failure</title>'
            '<rect x="50" y="10" width="5" height="120" fill="transparent"/>'
            '<rect class="failure" x="50" y="70" width="4" height="60" fill="#b3261e"/></g>',
            "</svg>",
        ]
    )


def test_heights_that_do_not_divide_evenly_are_rounded_to_a_tenth():
    window = ChartWindow(since=dt.datetime(2026, 12, 3, 10, 0, tzinfo=UTC), hours=1)

    chart = hourly_chart([HourlyCount(hour=window.since, success=1, failure=2)], window=window)

    assert '<rect class="success" x="40" y="90" width="4" height="40" fill="#1b7f3b"/>' in chart.svg
    assert '<rect class="failure" x="40" y="10" width="4" height="80" fill="#b3261e"/>' in chart.svg
    seven = hourly_chart([HourlyCount(hour=window.since, success=1, failure=6)], window=window)
    assert '<rect class="success" x="40" y="112.9" width="4" height="17.1" fill="#1b7f3b"/>' in seven.svg
    assert '<rect class="failure" x="40" y="10" width="4" height="102.9" fill="#b3261e"/>' in seven.svg


def test_an_empty_week_draws_no_bars_and_counts_nothing():
    window = chart_window(now=dt.datetime(2026, 12, 3, 14, 0, tzinfo=UTC))

    chart = hourly_chart([], window=window)

    assert (chart.success_total, chart.failure_total) == (0, 0)
    assert 'class="success"' not in chart.svg
    assert 'class="failure"' not in chart.svg
    assert chart.svg.count('<g class="hour">') == 168
    assert chart.svg.count("— 0 success, 0 failure</title>") == 168
    assert chart.svg.count("<text ") == 2 + 7  # the two axis labels and one per midnight
