"""The sends-per-minute plot: a pure function from `stats`' rows to SVG rectangles."""

from __future__ import annotations

import pytest

from notify_relay.dashboard.chart import AXIS_BOTTOM, HEIGHT, _nice, sends_chart


@pytest.mark.parametrize(("peak", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (5, 5), (6, 10),
                                           (11, 20), (150, 200), (201, 500), (5001, 10000)])
def test_the_scale_tops_at_1_2_or_5_times_a_power_of_ten(peak, top):
    assert _nice(peak) == top


def test_each_minute_is_a_stack_of_its_classes_success_at_the_bottom():
    minutes = [{"minute": 600, "sends": {}},
               {"minute": 660, "sends": {"transient": 1, "success": 3, "odd": 1}}]
    chart = sends_chart(minutes)
    plot = HEIGHT - AXIS_BOTTOM

    assert chart.top == 5 and chart.totals == {"success": 3, "transient": 1, "odd": 1}
    assert [(bar.cls, bar.count, bar.minute) for bar in chart.bars] == [
        ("success", 3, 660), ("transient", 1, 660), ("odd", 1, 660)]
    success, transient, odd = chart.bars
    assert success.y + success.height == pytest.approx(plot)  # on the axis
    assert transient.y + transient.height == pytest.approx(success.y)  # on top of it
    assert odd.y == pytest.approx(0)  # the peak reaches the top of the scale
    assert chart.labels[0][1] == "00:10"


def test_an_empty_hour_draws_no_bar():
    chart = sends_chart([{"minute": 60 * i, "sends": {}} for i in range(60)])
    assert chart.bars == [] and chart.top == 1 and len(chart.labels) == 6
