"""A small weekly trend chart (grouped bars or lines) drawn with plotext.

Values are plain numbers prepared by the caller; weeks without a value (no requests) leave a
gap in a line. The chart redraws itself on resize (plotext renders to the widget's size).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from textual_plotext import PlotextPlot

Series = tuple[str, Sequence[float | None]]

# Plotext colour names; fixed so the two series are told apart in every theme.
_COLOURS = ("blue+", "orange+", "green+", "magenta+")


class TrendChart(PlotextPlot):
    """Weekly bars or lines with week labels on the x axis.

    Args:
        title: shown above the plot.
        kind: ``bar`` (grouped bars) or ``line``.
    """

    DEFAULT_CSS = """
    TrendChart {
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, title: str, *, kind: Literal["bar", "line"] = "bar", id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.kind = kind
        self.labels: list[str] = []
        self.series: list[Series] = []
        self.unit = ""

    def show(self, labels: Sequence[str], series: Sequence[Series], *, unit: str = "") -> None:
        """Replace the data and redraw."""
        self.labels = list(labels)
        self.series = list(series)
        self.unit = unit
        self._draw()
        self.refresh()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(self.title)
        if not self.labels or not any(v for _, values in self.series for v in values):
            self._draw_empty()
            return
        xs: list[float] = [float(x) for x in range(1, len(self.labels) + 1)]
        if self.kind == "bar":
            # Grouped bars drawn as offset single series (plotext's multiple_bar stub disagrees
            # with its implementation about the labels keyword).
            n = max(len(self.series), 1)
            width = 0.8 / n
            for i, (name, values) in enumerate(self.series):
                offset = (i - (n - 1) / 2) * width
                plt.bar([x + offset for x in xs], [v or 0.0 for v in values], label=name,
                        color=_COLOURS[i % len(_COLOURS)], width=width)
        else:
            for i, (name, values) in enumerate(self.series):
                points = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
                # The second series gets its own axis on the right: first-response times (an
                # hour) and resolution times (days) do not share a useful scale.
                side = "left" if i == 0 else "right"
                if points:
                    top = max(v for _, v in points)
                    plt.plot([x for x, _ in points], [v for _, v in points], label=name,
                             color=_COLOURS[i % len(_COLOURS)], marker="braille", yside=side)
                    # The stub types yside as a float; plotext takes "left"/"right".
                    plt.ylim(0, top * 1.15 if top > 0 else 1.0, yside=side)  # type: ignore[arg-type]
        # Ticks after the data: drawing bars resets them.
        step = max(1, len(xs) // 4)
        ticks = xs[::step]
        plt.xticks(ticks, [self.labels[int(i) - 1] for i in ticks])
        plt.xlim(0.5, len(xs) + 0.5)
        if self.unit:
            plt.ylabel(self.unit)

    def _draw_empty(self) -> None:
        """No data (or only zeros): a plain 0–1 frame that says so, not plotext's default axes."""
        plt = self.plt
        count = max(len(self.labels), 1)
        plt.xlim(0.5, count + 0.5)
        plt.ylim(0, 1)
        plt.yticks([0, 1], ["0", ""])
        if self.labels:
            step = max(1, count // 4)
            ticks = [float(i) for i in range(1, count + 1)][::step]
            plt.xticks(ticks, [self.labels[int(i) - 1] for i in ticks])
        else:
            plt.xticks([], [])
        plt.text("no data for this period", x=(count + 1) / 2, y=0.5, alignment="center")
