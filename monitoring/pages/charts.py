"""Server-rendered SVG bar charts whose bars carry their figures (`data-value`, `<title>`),
so that a reader, a screen reader and a test can all check the numbers, not only the shapes."""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 560
HEIGHT = 220
LEFT = 48
BOTTOM = 36
TOP = 16


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: no data for that bar (drawn as an empty slot)
    series: str = ""


def _fmt(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[Bar],
    *,
    unit: str = "",
    target: float | None = None,
    target_label: str = "target",
    y_min: float = 0.0,
    y_max: float | None = None,
    higher_is_better: bool = True,
) -> Markup:
    """A bar per figure, an optional horizontal target line, and the axis bounds."""
    values = [b.value for b in bars if b.value is not None]
    top = y_max if y_max is not None else max([*values, target or 0.0, 1.0]) * 1.1
    low = min([y_min, *values, *([target] if target is not None else [])])
    span = (top - low) or 1.0
    plot_w = WIDTH - LEFT - 8
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(bars), 1)

    def y(value: float) -> float:
        return TOP + plot_h - (value - low) / span * plot_h

    parts = [
        f'<svg class="chart" data-chart="{escape(chart_id)}" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" '
        f'y2="{TOP + plot_h}" stroke="#555"/>',
        f'<text x="4" y="{TOP + 4}" font-size="10">{escape(_fmt(top))}{escape(unit)}</text>',
        f'<text x="4" y="{TOP + plot_h}" font-size="10">{escape(_fmt(low))}{escape(unit)}</text>',
    ]
    for index, bar in enumerate(bars):
        x = LEFT + index * slot + slot * 0.15
        width = slot * 0.7
        label = escape(bar.label)
        if bar.value is None:
            parts.append(
                f'<rect class="bar empty" data-label="{label}" data-value="" x="{x:.1f}" '
                f'y="{TOP + plot_h - 1}" width="{width:.1f}" height="1" fill="#ccc">'
                f"<title>{label}: no data</title></rect>"
            )
        else:
            top_y = y(bar.value)
            missed = target is not None and (
                bar.value < target if higher_is_better else bar.value >= target
            )
            colour = "#c0392b" if missed else "#2e86c1"
            parts.append(
                f'<rect class="bar" data-label="{label}" data-value="{_fmt(bar.value)}" '
                f'data-series="{escape(bar.series)}" x="{x:.1f}" y="{top_y:.1f}" '
                f'width="{width:.1f}" height="{max(TOP + plot_h - top_y, 0):.1f}" '
                f'fill="{colour}"><title>{label}: {_fmt(bar.value)}{escape(unit)}</title></rect>'
            )
        parts.append(
            f'<text x="{x + width / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" '
            f'text-anchor="middle">{label}</text>'
        )
    if target is not None:
        ty = y(target)
        parts.append(
            f'<line class="target" data-value="{_fmt(target)}" x1="{LEFT}" y1="{ty:.1f}" '
            f'x2="{WIDTH - 8}" y2="{ty:.1f}" stroke="#e67e22" stroke-dasharray="6 3">'
            f"<title>{escape(target_label)} {_fmt(target)}{escape(unit)}</title></line>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
