"""Charts as inline SVG (no JavaScript), readable in greyscale print: series differ by dash
pattern, marker and hatching as well as colour, and are labelled directly.

`chart(kind, sp, accent, uid)` returns a `<figure>` for the HTML document.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import TypeVar

from generator.model import Plan, QuoteAnalysis, QuoteResult, ScenarioPlan
from generator.money import share_text, usd

WIDTH = 720
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
GREYS = ("#222222", "#555555", "#888888", "#333333")
DASHES = ("7 4", "2 3", "9 3 2 3", "4 2")
MARKERS = ("square", "triangle", "diamond", "cross")
CHART_ROWS = 30  # the build chart's bars: the largest components (a workbook may have 400)
CHART_PRODUCTS = 8  # the cost-of-ownership chart's products: the cheapest over the horizon
T = TypeVar("T")


def _t(x: float, y: float, text: str, size: int = 11, anchor: str = "start", weight: str = "normal",
       fill: str = "#1b1b1b") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}" {FONT}>{escape(text)}</text>')


def _hatched(x: float, y: float, width: float, height: float, color: str, outline: str = "",
             opacity: float | None = None) -> str:
    """A rectangle hatched with thin diagonal lines (45 degrees, 6 apart, on white), drawn as the line
    segments that fall inside it. Not an SVG <pattern>: Chromium's PDF output expands a pattern
    fill, and the charts' patterns took a quarter of Chromium's time to print a budget.
    `outline`: stroke attributes of its border, drawn over the lines."""
    step, segments, k = 6 * 2 ** 0.5, [], 6 * 2 ** 0.5 / 2
    while k < width + height:  # the line where (X - x) + (Y - y) = k, rising to the right, cut to the box
        a1, a2 = max(0.0, k - height), min(width, k)
        segments.append(f"M{x + a1:.1f},{y + k - a1:.1f}L{x + a2:.1f},{y + k - a2:.1f}")
        k += step
    box = f'x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}"'
    parts = [f'<rect {box} fill="#ffffff"/>']
    if segments:
        parts.append(f'<path d="{"".join(segments)}" stroke="{color}" stroke-width="1.25" fill="none"/>')
    if outline:
        parts.append(f'<rect {box} fill="none" {outline}/>')
    group = f' opacity="{opacity}"' if opacity is not None else ""
    return f"<g{group}>{''.join(parts)}</g>"


def _svg(height: float, title: str, parts: Sequence[str], defs: str = "") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
            + (f"<defs>{defs}</defs>" if defs else "") + "".join(parts) + "</svg>")


def _figure(svg: str, caption: str) -> str:
    return f'<figure class="chart">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def fit_lines(text: str, width: float, size: int, lines: int = 2) -> list[str]:
    """`text` in at most `lines` lines that fit `width` pixels at `size` (DejaVu Sans averages
    under 0.6 em a character): wrapped at spaces, the last line shortened with an ellipsis only
    when the whole does not fit. A label never runs out of the plot to be clipped."""
    per_line = max(int(width / (size * 0.6)), 4)
    words, out, current = str(text).split(), [], ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= per_line:
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
    out.append(current)
    out = [line for line in out if line] or [""]
    if len(out) > lines or any(len(line) > per_line for line in out):
        kept = out[:lines]
        rest = " ".join(out[len(kept) - 1:])
        kept[-1] = rest if len(rest) <= per_line else rest[:per_line - 1].rstrip() + "…"
        out = [line if len(line) <= per_line else line[:per_line - 1].rstrip() + "…" for line in kept]
    return out


def _label(x: float, y: float, text: str, width: float, size: int = 11, anchor: str = "end") -> str:
    """A row label at baseline `y` that fits `width` pixels: one line, or two smaller lines
    around the same middle."""
    one = fit_lines(text, width, size, lines=1)
    if one[0] == " ".join(str(text).split()):
        return _t(x, y, one[0], size, anchor)
    small = size - 1
    two = fit_lines(text, width, small, lines=2)
    if len(two) == 1:
        return _t(x, y, two[0], small, anchor)
    return (_t(x, y - small * 0.55, two[0], small, anchor) + _t(x, y + small * 0.5, two[1], small, anchor))



def nice_step(top: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) covering `top` in about `ticks` steps."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    for m in (1, 2, 5, 10):
        if raw <= m * power:
            return float(m * power)
    return float(10 * power)


def thousands(value: float) -> str:
    """An axis tick in thousands of dollars (axis titles say so): `50k`."""
    return f"{value / 1000:,.0f}k" if value else "0"


def _marker(kind: str, x: float, y: float, color: str) -> str:
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"/>'
    if kind == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{color}"/>'
    if kind == "triangle":
        return (f'<path d="M{x:.1f},{y - 5:.1f} L{x + 4.5:.1f},{y + 3.5:.1f} '
                f'L{x - 4.5:.1f},{y + 3.5:.1f} Z" fill="{color}"/>')
    if kind == "diamond":
        return (f'<path d="M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y:.1f} L{x:.1f},{y + 5:.1f} '
                f'L{x - 5:.1f},{y:.1f} Z" fill="{color}"/>')
    return (f'<path d="M{x - 4:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 4:.1f} M{x - 4:.1f},{y + 4:.1f} '
            f'L{x + 4:.1f},{y - 4:.1f}" stroke="{color}" stroke-width="2"/>')


def _spread(ys: list[float], gap: float = 13.0) -> list[float]:
    """Nudge label positions apart so direct labels never overlap (order kept)."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    for a, b in zip(order, order[1:], strict=False):
        if out[b] - out[a] < gap:
            out[b] = out[a] + gap
    return out


# ------------------------------------------------------------------ build cost by component


def largest(items: Sequence[T], key: Callable[[T], float], most: int) -> list[T]:
    """The `most` items of largest `key`, in their own order (ties: the earlier one)."""
    if len(items) <= most:
        return list(items)
    kept = set(sorted(range(len(items)), key=lambda i: (-key(items[i]), i))[:most])
    return [item for i, item in enumerate(items) if i in kept]


def build_chart(sp: ScenarioPlan, accent: str, uid: str) -> str:
    items = sorted(largest(sp.components, lambda li: li.cost.expected, CHART_ROWS), key=lambda li: li.phase)
    drawn = "" if len(items) == len(sp.components) else (
        f" The {len(items)} largest of {len(sp.components):,} components are drawn; the component breakdown "
        "lists every one.")
    row, left, right = 24, 200, 110
    top = max((li.cost.high for li in items), default=1) or 1
    scale = (WIDTH - left - right) / top
    height = 40 + row * len(items) + 40
    parts = [_t(left, 16, "Expected cost (bar) and range (line), by component", 11, weight="bold")]
    for i, li in enumerate(items):
        y = 30 + i * row
        parts.append(_label(left - 8, y + 14, li.name, left - 12))
        if li.phase == 1:
            parts.append(f'<rect x="{left}" y="{y + 3}" width="{li.cost.expected * scale:.1f}" '
                         f'height="{row - 8}" fill="{accent}" stroke="{accent}" stroke-width="1"/>')
        else:
            parts.append(_hatched(left, y + 3, li.cost.expected * scale, row - 8, accent,
                                  f'stroke="{accent}" stroke-width="1"'))
        x0, x1, ym = left + li.cost.low * scale, left + li.cost.high * scale, y + row / 2
        parts.append(f'<path d="M{x0:.1f},{ym - 5:.1f} V{ym + 5:.1f} M{x0:.1f},{ym:.1f} H{x1:.1f} '
                     f'M{x1:.1f},{ym - 5:.1f} V{ym + 5:.1f}" stroke="#1b1b1b" stroke-width="1.2" fill="none"/>')
        parts.append(_t(x1 + 6, y + 14, usd(li.cost.expected), 10))
    ly = 30 + len(items) * row + 18
    parts.append(f'<rect x="{left}" y="{ly - 10}" width="14" height="12" fill="{accent}"/>')
    parts.append(_t(left + 20, ly, "Phase 1 (year one), solid", 10))
    parts.append(_hatched(left + 200, ly - 10, 14, 12, accent, f'stroke="{accent}"'))
    parts.append(_t(left + 220, ly, "Phase 2 (year two), hatched", 10))
    svg = _svg(height, "Build cost by component and phase", parts)
    return _figure(svg, f"Build cost by component: expected {usd(sp.build.expected)} in all.{drawn}")


# ------------------------------------------------------------------ cumulative cost of ownership


def tco_chart(sp: ScenarioPlan, accent: str, uid: str) -> str:
    own = sp.ownership
    products = largest(own.off_the_shelf, lambda p: -p.cumulative[-1], CHART_PRODUCTS)
    drawn = "" if len(products) == len(own.off_the_shelf) else \
        f" Of the {len(own.off_the_shelf):,} products, the {len(products)} cheapest over the horizon are drawn."
    series = [("Custom build", own.custom_cumulative)] + [(p.product, p.cumulative) for p in products]
    left, right, top_pad, bottom = 60, 250, 24, 40
    height = 300
    top = max(max(v) for _, v in series) or 1
    step = nice_step(top)
    ymax = step * (int(top // step) + 1)
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom

    def px(year: float) -> float:
        return left + plot_w * year / own.years

    def py(value: float) -> float:
        return top_pad + plot_h * (1 - value / ymax)

    parts = _axes_y(left, WIDTH - right, ymax, step, py, "Cumulative cost, US$ thousands")
    for y in range(own.years + 1):
        parts.append(_t(px(y), height - bottom + 16, f"Year {y}" if y else "Start", 10, "middle"))
    if own.break_even_year is not None:
        bx = px(own.break_even_year)
        parts.append(f'<line x1="{bx:.1f}" y1="{top_pad}" x2="{bx:.1f}" y2="{top_pad + plot_h}" '
                     f'stroke="#1b1b1b" stroke-width="1" stroke-dasharray="3 3"/>')
        parts.append(_t(bx + 4, top_pad + 12, f"Break-even: year {own.break_even_year}", 10, weight="bold"))
    ends = []
    for i, (name, values) in enumerate(series):
        color = accent if i == 0 else GREYS[(i - 1) % len(GREYS)]
        dash = "" if i == 0 else f' stroke-dasharray="{DASHES[(i - 1) % len(DASHES)]}"'
        points = [(px(0), py(0))] + [(px(y + 1), py(v)) for y, v in enumerate(values)]
        d = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{d}" fill="none" stroke="{color}" '
                     f'stroke-width="{3 if i == 0 else 2}"{dash}/>')
        marker = "circle" if i == 0 else MARKERS[(i - 1) % len(MARKERS)]
        parts += [_marker(marker, x, y, color) for x, y in points[1:]]
        ends.append((name, values[-1], py(values[-1]), color))
    for (name, value, _, color), label_y in zip(ends, _spread([e[2] for e in ends]), strict=True):
        short = name if len(name) <= 24 else name[:23].rstrip() + "…"
        parts.append(_t(px(own.years) + 8, label_y + 4, f"{short} {usd(value)}", 10, fill=color,
                        weight="bold" if name == "Custom build" else "normal"))
    svg = _svg(height, "Cumulative cost: custom build against each off-the-shelf product", parts)
    return _figure(svg, f"Cumulative cost over {own.years} years, custom build (solid, circles) against each "
                        f"off-the-shelf product (dashed, other markers).{drawn}")


def _axes_y(x0: float, x1: float, ymax: float, step: float, py: object, title: str) -> list[str]:
    parts = []
    v = 0.0
    while v <= ymax + 1e-6:
        y = py(v)  # type: ignore[operator]
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#d0d0d0" stroke-width="1"/>')
        parts.append(_t(x0 - 6, y + 4, thousands(v), 10, "end", fill="#5a5a5a"))
        v += step
    parts.append(_t(x0, 12, title, 10, fill="#5a5a5a"))
    return parts


# ------------------------------------------------------------------ spend over time


def cash_chart(sp: ScenarioPlan, accent: str, uid: str) -> str:
    own = sp.ownership
    flow = own.cash_flow
    left, right, top_pad, bottom, height = 60, 20, 24, 56, 280
    top = max((q.total for q in flow), default=1) or 1
    step = nice_step(top)
    ymax = step * (int(top // step) + 1)
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    slot = plot_w / max(len(flow), 1)

    def py(value: float) -> float:
        return top_pad + plot_h * (1 - value / ymax)

    parts = _axes_y(left, WIDTH - right, ymax, step, py, "Spend per quarter, US$ thousands")
    for i, q in enumerate(flow):
        x = left + i * slot + slot * 0.15
        w = slot * 0.7
        if q.build:
            parts.append(f'<rect x="{x:.1f}" y="{py(q.run + q.build):.1f}" width="{w:.1f}" '
                         f'height="{py(q.run) - py(q.run + q.build):.1f}" fill="{accent}"/>')
        if q.launch:  # going live: drawn on its own (a quarter may have it without any build)
            parts.append(f'<rect x="{x:.1f}" y="{py(q.total):.1f}" width="{w:.1f}" '
                         f'height="{py(q.run + q.build) - py(q.total):.1f}" fill="{accent}" fill-opacity="0.35" '
                         f'stroke="{accent}" stroke-width="0.8"/>')
        if q.run:
            parts.append(_hatched(x, py(q.run), w, py(0) - py(q.run), "#555555",
                                  'stroke="#555555" stroke-width="0.8"'))
    for y in range(own.years):
        cx = left + (4 * y + 2) * slot
        parts.append(_t(cx, height - bottom + 16, f"Year {y + 1}", 10, "middle"))
        parts.append(_t(cx, height - bottom + 30, usd(own.custom_yearly[y]), 10, "middle", weight="bold"))
    ly = height - 8
    parts.append(f'<rect x="{left}" y="{ly - 10}" width="14" height="12" fill="{accent}"/>')
    parts.append(_t(left + 20, ly, "Build (solid)", 10))
    parts.append(_hatched(left + 130, ly - 10, 14, 12, "#555555", 'stroke="#555555"'))
    parts.append(_t(left + 150, ly, "Run costs (hatched)", 10))
    if any(q.launch for q in flow):
        parts.append(f'<rect x="{left + 280}" y="{ly - 10}" width="14" height="12" fill="{accent}" '
                     f'fill-opacity="0.35" stroke="{accent}" stroke-width="0.8"/>')
        parts.append(_t(left + 300, ly, "Going live: productivity dip, old system (light)", 10))
    svg = _svg(height, "Spend per quarter: build, run and going-live costs", parts)
    return _figure(svg, "Spend per quarter; the figure under each year is that year's total.")


# ------------------------------------------------------------------ risk


def _axis_x_costs(lo: float, hi: float, px: Callable[[float], float], y0: float, title: str) -> list[str]:
    """Tick marks and labels along a cost axis from `lo` to `hi`, at a round step, with its title
    below; `y0` is the axis line's height."""
    step = nice_step(hi - lo)
    parts = [f'<line x1="{px(lo):.1f}" y1="{y0:.1f}" x2="{px(hi):.1f}" y2="{y0:.1f}" stroke="#5a5a5a"/>']
    v = step * math.ceil(lo / step)
    while v <= hi + 1e-6:
        x = px(v)
        parts.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y0 + 5:.1f}" stroke="#5a5a5a"/>')
        parts.append(_t(x, y0 + 17, thousands(v) if step >= 1000 else usd(v), 10, "middle", fill="#5a5a5a"))
        v += step
    parts.append(_t((px(lo) + px(hi)) / 2, y0 + 33, title, 10, "middle", fill="#5a5a5a"))
    return parts


def scurve_chart(sp: ScenarioPlan, accent: str, uid: str) -> str:
    risk = sp.risk
    assert risk is not None  # the S-curve is drawn only for a scenario the risk stage analysed
    curve = list(risk.s_curve)
    marks = [("P10", risk.p10), ("P50", risk.p50), ("P80", risk.p80), ("P90", risk.p90)]
    values = [c for _, c in curve] + [v for _, v in marks]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1
    left, right, top_pad, bottom, height = 60, 40, 24, 48, 268
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom

    def px(cost: float) -> float:
        return left + plot_w * (cost - lo) / span

    def py(prob: float) -> float:
        return top_pad + plot_h * (1 - prob)

    parts = []
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" y1="{py(p):.1f}" x2="{WIDTH - right}" y2="{py(p):.1f}" stroke="#d0d0d0"/>')
        parts.append(_t(left - 6, py(p) + 4, f"{p:.0%}", 10, "end", fill="#5a5a5a"))
    parts.append(_t(left, 12, "Probability the build costs this much or less", 10, fill="#5a5a5a"))
    parts += _axis_x_costs(lo, hi, px, py(0.0), "Build cost, US$ thousands")
    if curve:
        d = " ".join(f"{px(c):.1f},{py(p):.1f}" for p, c in curve)
        parts.append(f'<polyline points="{d}" fill="none" stroke="{accent}" stroke-width="2.5"/>')
    for i, (name, value) in enumerate(marks):
        prob = int(name[1:]) / 100
        parts.append(_marker("diamond", px(value), py(prob), "#1b1b1b"))
        parts.append(_t(px(value) + 8, py(prob) + 4 + (i % 2) * 0, f"{name} {usd(value)}", 10))
    svg = _svg(height, "S-curve: probability of the build cost", parts)
    return _figure(svg, "Cumulative probability of the build cost (S-curve) with its percentiles.")


def tornado_chart(sp: ScenarioPlan, accent: str, uid: str) -> str:
    risk = sp.risk
    assert risk is not None  # the tornado is drawn only for a scenario the risk stage analysed
    items = [s for s in risk.sensitivity if s.swing][:10]
    if not items:
        return ""
    point = risk.point
    lows = [min(s.low, s.high) for s in items] + [point]
    highs = [max(s.low, s.high) for s in items] + [point]
    lo, hi = min(lows), max(highs)
    span = (hi - lo) or 1
    left, right, row = 220, 110, 24
    height = 40 + row * len(items) + 10
    plot_w = WIDTH - left - right

    def px(cost: float) -> float:
        return left + plot_w * (cost - lo) / span

    parts = [_t(left, 16, "Build cost with each input at its low (solid) and high (hatched) value", 11,
                weight="bold")]
    for i, s in enumerate(items):
        y = 28 + i * row
        parts.append(_label(left - 8, y + 14, str(s.name), left - 12))
        for value, hatched in ((s.low, False), (s.high, True)):
            x0, x1 = sorted((px(point), px(value)))
            if hatched:
                parts.append(_hatched(x0, y + 3, max(x1 - x0, 0.5), row - 8, accent,
                                      f'stroke="{accent}" stroke-width="0.8"'))
            else:
                parts.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 0.5):.1f}" height="{row - 8}" '
                             f'fill="{accent}" stroke="{accent}" stroke-width="0.8"/>')
        parts.append(_t(px(max(s.low, s.high)) + 6, y + 14, f"swing {usd(s.swing)}", 10))
    x = px(point)
    parts.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height - 6}" stroke="#1b1b1b" stroke-width="1.2"/>')
    svg = _svg(height, "Tornado: what moves the build cost most", parts)
    return _figure(svg, "Inputs that move the build cost most, largest swing first.")


def _quote_label(r: QuoteResult) -> str:
    name = r.quote.vendor if len(r.quote.vendor) <= 28 else r.quote.vendor[:27].rstrip() + "…"
    return f"{name} {usd(r.quote.price)} ({share_text(r.percentile)})"


def _cost_at(curve: list[tuple[float, int]], prob: float) -> float:
    """The S-curve's cost at a probability (linear between its points)."""
    for (p0, c0), (p1, c1) in zip(curve, curve[1:], strict=False):
        if p0 <= prob <= p1:
            return c0 + (c1 - c0) * ((prob - p0) / (p1 - p0) if p1 > p0 else 0)
    return curve[-1][1]


INLINE_LABELS = 4  # up to this many quotes are named on the chart; more are numbered, with a key below


def quotes_chart(analysis: QuoteAnalysis, sp: ScenarioPlan, accent: str, uid: str) -> str:
    """The base scenario's S-curve with each vendor's quote marked where it falls on it."""
    curve = list(sp.risk.s_curve) if sp.risk is not None else []
    numbered = len(analysis.results) > INLINE_LABELS
    results = sorted(analysis.results, key=lambda r: r.quote.price)
    prices = [r.quote.price for r in results]
    costs = [float(c) for _, c in curve] + [float(p) for p in prices]
    pad = (max(costs) - min(costs)) * 0.04 or 1
    lo, hi = max(min(costs) - pad, 0), max(costs) + pad
    left, right, top_pad, bottom, plot_h = 60, 40, 34, 48, 196
    key_rows = (len(results) + 1) // 2 if numbered else 0
    height = top_pad + plot_h + bottom + 16 * key_rows
    plot_w = WIDTH - left - right

    def px(cost: float) -> float:
        return left + plot_w * (cost - lo) / (hi - lo)

    def py(prob: float) -> float:
        return top_pad + plot_h * (1 - prob)

    parts = []
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" y1="{py(p):.1f}" x2="{WIDTH - right}" y2="{py(p):.1f}" stroke="#d0d0d0"/>')
        parts.append(_t(left - 6, py(p) + 4, f"{p:.0%}", 10, "end", fill="#5a5a5a"))
    parts.append(_t(left, 12, "Share of simulated builds costing no more than the price", 10, fill="#5a5a5a"))
    parts += _axis_x_costs(lo, hi, px, py(0.0), "Build cost, US$ thousands")
    x10, x90 = px(analysis.p10), px(analysis.p90)
    parts.append(_hatched(x10, top_pad, x90 - x10, plot_h, "#888888", opacity=0.35))
    parts.append(_t((x10 + x90) / 2, top_pad + plot_h - 6, "P10–P90", 10, "middle", fill="#5a5a5a"))
    if curve:
        points = [(px(lo), py(0.0))] + [(px(c), py(p)) for p, c in curve] + [(px(hi), py(1.0))]
        d = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{d}" fill="none" stroke="{accent}" stroke-width="2.5"/>')
    for i, r in enumerate(results):
        x, y = px(r.quote.price), py(r.percentile)
        parts.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{py(0.0):.1f}" stroke="#1b1b1b" '
                     f'stroke-width="1" stroke-dasharray="{DASHES[i % len(DASHES)]}"/>')
        parts.append(_marker(MARKERS[i % len(MARKERS)], x, y, "#1b1b1b"))
    if numbered:
        parts += _numbers(analysis, px, py, top_pad + plot_h + bottom)
    else:
        parts += _inline_labels(results, curve, px, py)
    svg = _svg(height, "Vendor quotes on the S-curve of the simulated build cost", parts)
    key = " The numbers are the quotes' rows in the table above." if numbered else ""
    return _figure(svg, "Each quote marked on the S-curve of the simulated build cost for this scope; "
                        f"the hatched band is the P10–P90 range.{key}")


def _inline_labels(results: list[QuoteResult], curve: list[tuple[float, int]], px: Callable[[float], float],
                   py: Callable[[float], float]) -> list[str]:
    """Each quote named where the S-curve is not. A quote right of the curve (above the simulated
    range): right of its mark, under the curve's plateau, when the label fits there, else at the
    highest level the curve has already passed. A quote left of it (below the range): at the
    lowest level whose whole label clears the curve, with a leader up from its mark (its label
    by the mark ran across the rising curve). A quote on the curve: above-left of its mark on the
    upper half, below-right on the lower half."""
    places: list[tuple[str, float, float, tuple[float, float] | None]] = []
    for r in results:
        x, y = px(r.quote.price), py(r.percentile)
        width = 6.5 * len(_quote_label(r))  # DejaVu Sans Bold at 10 px, about 6.5 px a character
        if r.position == "above" and x + 8 + width <= WIDTH - 40:
            places.append(("start", x + 8, y + 18, None))
        elif r.position == "above":
            level = next((p for p in (0.75, 0.65, 0.55, 0.45, 0.35) if curve and
                          px(_cost_at(curve, p)) < x - 8 - width - 6), 0.3)
            places.append(("end", x - 8, py(level), None))
        elif r.position == "below":
            clear = next((p for p in (0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95) if curve and
                          px(_cost_at(curve, p - 0.05)) > x + width + 6), None)
            if clear is None:
                places.append(("start", x + 8, y - 8, None))
            else:
                places.append(("start", x - 4, py(clear), (x, y)))
        elif r.percentile > 0.5:
            places.append(("end", x - 8, y - 8, None))
        else:
            places.append(("start", x + 8, y + 14, None))
    label_ys = [min(y, py(0.0) - 22) for y in _spread([y for _, _, y, _ in places], 14.0)]
    parts = []
    for r, (anchor, lx, _, mark), label_y in zip(results, places, label_ys, strict=True):
        if mark is not None:
            parts.append(f'<line x1="{mark[0]:.1f}" y1="{mark[1] - 6:.1f}" x2="{mark[0]:.1f}" y2="{label_y + 4:.1f}" '
                         'stroke="#5a5a5a" stroke-width="0.8"/>')
        parts.append(_t(lx, label_y, _quote_label(r), 10, anchor, weight="bold"))
    return parts


def _numbers(analysis: QuoteAnalysis, px: Callable[[float], float], py: Callable[[float], float],
             key_top: float) -> list[str]:
    """Many quotes: each mark numbered by its row in the table (above the mark, or the nearest
    place above or below it that clears the numbers placed before), and a key in two columns under
    the axis."""
    parts: list[str] = []
    placed: list[tuple[float, float]] = []
    for n, r in sorted(enumerate(analysis.results, start=1), key=lambda item: item[1].quote.price):
        x, mark = px(r.quote.price), py(r.percentile)
        free = [mark + dy for dy in (-9, -21, 18, 30, -33, 42, 54) if 24 <= mark + dy <= py(0.0) - 4
                and not any(abs(x - px0) < 16 and abs(mark + dy - py0) < 12 for px0, py0 in placed)]
        y = free[0] if free else mark - 9
        placed.append((x, y))
        parts.append(_t(x, y, str(n), 10, "middle", weight="bold"))
    half = (len(analysis.results) + 1) // 2
    for n, r in enumerate(analysis.results, start=1):
        column, row = divmod(n - 1, half)
        parts.append(_t(60 + column * 330, key_top + 14 * row + 4, f"{n}. {_quote_label(r)}", 10))
    return parts


CHARTS = {"build": build_chart, "tco": tco_chart, "cash": cash_chart, "scurve": scurve_chart,
          "tornado": tornado_chart}


def plan_chart(kind: str, plan: Plan, index: int, accent: str) -> str:
    """The chart a document's `<!-- chart:kind:index -->` mark names: the vendor quotes chart
    (the plan's, on the base scenario), or scenario `index`'s chart of that kind."""
    if kind == "quotes":
        return quotes_chart(plan.quotes, plan.base, accent, "quotes") if plan.quotes else ""
    if index >= len(plan.scenarios):
        return ""
    return chart(kind, plan.scenarios[index], accent, f"{kind}{index}")


def chart(kind: str, sp: ScenarioPlan, accent: str, uid: str = "") -> str:
    """One chart as a `<figure>`; an unknown kind or a chart without data gives ''."""
    make = CHARTS.get(kind)
    if make is None or (kind in ("scurve", "tornado") and sp.risk is None):
        return ""
    return make(sp, accent, uid or kind)
