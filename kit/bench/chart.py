"""``kit bench``'s chart: start-up per target and method as an SVG written by hand.

No plotting library: the kit's dependencies stay psutil (and the Docker SDK for containers).
The chart goes beside the Markdown page that links it.
"""
from __future__ import annotations

import math
from html import escape
from pathlib import Path

from kit.bench.records import OK, Bench
from kit.bench.render import ms, plain_ms, platform_of, targets_of


def chart_path(markdown: str | None) -> str | None:
    """Where the chart goes: beside the Markdown file (``bench.md`` -> ``bench.svg``); none for stdout."""
    if not markdown or markdown == "-":
        return None
    return str(Path(markdown).with_suffix(".svg"))


COLOURS = {"fork": "#4e79a7", "spawn": "#e15759", "forkserver": "#59a14f"}
OTHER_COLOUR = "#9c9c9c"


def _nice_top(value: float) -> tuple[float, float]:
    """An axis top at or above ``value`` and its tick step (1, 2 or 5 x 10^k, at most 6 steps)."""
    if value <= 0:
        return 1.0, 0.2
    raw = value / 6
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return step * math.ceil(value / step - 1e-9), step


def chart_svg(bench: Bench) -> str:
    """Start-up (median per start, ms) as grouped bars: a group per target, a bar per method
    (one colour each), the interquartile range as a whisker, the value above; a method without
    a figure gets "n/a" in its place."""
    targets = targets_of(bench.rows)
    methods = list(dict.fromkeys(r.method for r in bench.rows))
    cell = {(r.target, r.method): r for r in bench.rows}
    measured = [r.startup.per_start_s.stats for r in bench.rows if r.status == OK and r.startup]
    top, step = _nice_top(max([max(s.q3, s.median) * 1000 for s in measured], default=1.0))
    bar, gap, group_gap, left, right, head, plot_h, foot = 26, 4, 28, 64, 16, 64, 240, 56
    group_w = len(methods) * (bar + gap) - gap
    content = len(targets) * (group_w + group_gap) + group_gap
    width = max(440, left + content + right)  # the title fits
    shift = (width - left - right - content) / 2  # groups centred when the title sets the width
    height = head + plot_h + foot
    base = head + plot_h

    def y(ms: float) -> float:
        return base - plot_h * ms / top

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           '<title>Process start-up per target and start method (median per start, ms)</title>',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="18" font-size="13" font-weight="bold">Start-up: median ms per process '
           '(whisker: IQR)</text>']
    x = left
    for m in methods:  # the legend
        out.append(f'<rect class="legend" x="{x}" y="30" width="12" height="12" '
                   f'fill="{COLOURS.get(m, OTHER_COLOUR)}"/>')
        out.append(f'<text x="{x + 16}" y="40">{escape(m)}</text>')
        x += 24 + 7 * len(m)
    tick = 0.0
    while tick <= top + 1e-9:
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                   'stroke="#e0e0e0"/>')
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    out.append(f'<text x="14" y="{head + plot_h / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 14 {head + plot_h / 2:.0f})">ms per start</text>')
    for i, target in enumerate(targets):
        gx = left + shift + group_gap + i * (group_w + group_gap)
        for j, method in enumerate(methods):
            bx = gx + j * (bar + gap)
            r = cell.get((target, method))
            if r is None or r.status != OK or r.startup is None:
                why = "not run" if r is None else r.status
                out.append(f'<text class="missing" x="{bx + bar / 2:.1f}" y="{base - 4}" text-anchor="middle" '
                           f'font-size="9" fill="#666666">n/a<title>{escape(f"{target} {method}: {why}")}</title>'
                           '</text>')
                continue
            s = r.startup.per_start_s.stats
            tip = (f"{target} {method}: {ms(s.median)} per start (IQR {plain_ms(s.q1)}–{ms(s.q3)}, "
                   f"min {ms(s.min)}, max {ms(s.max)}; {s.n} × {r.startup.number} starts)")
            h = base - y(s.median * 1000)
            out.append(f'<rect class="bar" data-target="{escape(target)}" data-method="{escape(method)}" '
                       f'x="{bx:.1f}" y="{base - h:.1f}" width="{bar}" height="{h:.1f}" '
                       f'fill="{COLOURS.get(method, OTHER_COLOUR)}"><title>{escape(tip)}</title></rect>')
            cx = bx + bar / 2
            out.append(f'<line class="iqr" x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(s.q1 * 1000):.1f}" '
                       f'y2="{y(s.q3 * 1000):.1f}" stroke="#222222" stroke-width="1.5"/>')
            label_y = min(y(s.median * 1000), y(s.q3 * 1000)) - 4
            out.append(f'<text class="value" x="{cx:.1f}" y="{label_y:.1f}" text-anchor="middle" '
                       f'font-size="9">{plain_ms(s.median)}</text>')
        out.append(f'<text class="target" x="{gx + group_w / 2:.1f}" y="{base + 18}" text-anchor="middle">'
                   f'{escape(target)}</text>')
        info = platform_of(bench.rows, target)
        if info:
            out.append(f'<text x="{gx + group_w / 2:.1f}" y="{base + 32}" text-anchor="middle" font-size="9" '
                       f'fill="#666666">{escape(f"{info.implementation} {info.python}")}</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="#333333"/>')
    out.append("</svg>")
    return "\n".join(out)


