"""Small server-rendered SVG charts for the console: no script, no external asset.

Each chart is built from plain numbers and escaped labels, so it renders in any browser
with JavaScript off and prints as it shows. The SVG carries a `<title>` and each bar a
`<title>` too (screen readers and tooltips), and the page puts the same numbers in a
table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#1f5fa8", "#c2571a", "#2e8540", "#8a3ab9", "#b8860b", "#5b6770")


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    width: int = 720,
    height: int = 180,
    unit: str = "",
) -> str:
    """One series of vertical bars (e.g. failed logins per hour)."""
    return grouped_bars(title, labels, {"": list(values)}, width=width, height=height, unit=unit)


def grouped_bars(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    width: int = 720,
    height: int = 220,
    unit: str = "",
) -> str:
    """Bars for each label, one per series side by side, with a legend when named."""
    pad_l, pad_b, pad_t = 48, 36, 24
    plot_w, plot_h = width - pad_l - 8, height - pad_b - pad_t
    top = max((v for vals in series.values() for v in vals), default=0) or 1
    n = max(len(labels), 1)
    group_w = plot_w / n
    names = list(series)
    bar_w = max(1.0, group_w * 0.8 / max(len(names), 1))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 8}" y2="{pad_t + plot_h}" '
        'stroke="#888"/>',
        f'<text x="{pad_l - 6}" y="{pad_t + 4}" text-anchor="end" font-size="11">'
        f"{escape(_num(top))}{escape(unit)}</text>",
        f'<text x="{pad_l - 6}" y="{pad_t + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    every = max(1, n // 12)
    for i, label in enumerate(labels):
        x0 = pad_l + i * group_w + group_w * 0.1
        for j, name in enumerate(names):
            vals = series[name]
            v = vals[i] if i < len(vals) else 0
            h = plot_h * v / top
            colour = PALETTE[j % len(PALETTE)]
            tip = f"{label}{' · ' + name if name else ''}: {_num(v)}{unit}"
            out.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{pad_t + plot_h - h:.1f}" '
                f'width="{bar_w * 0.95:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{x0 + group_w * 0.4:.1f}" y="{height - pad_b + 14}" '
                f'text-anchor="middle" font-size="10">{escape(label)}</text>'
            )
    if any(names):
        x = pad_l
        for j, name in enumerate(names):
            out.append(
                f'<rect x="{x}" y="4" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>'
                f'<text x="{x + 14}" y="13" font-size="11">{escape(name)}</text>'
            )
            x += 14 + 8 * len(name) + 16
    out.append("</svg>")
    return "".join(out)


def _num(v: float) -> str:
    return f"{v:.1f}" if isinstance(v, float) and not v.is_integer() else f"{int(v)}"
