#!/usr/bin/env python3
"""Summarizes fsbench-matrix raw results: medians, ratios to native and to fuse-overlayfs,
a CSV and an SVG bar chart of the ratios to native (log scale)."""
import math
import statistics as st
import sys
from collections import OrderedDict, defaultdict

raw, out = sys.argv[1], sys.argv[2]
secs, iops = defaultdict(list), defaultdict(list)
targets, phases = OrderedDict(), OrderedDict()
for line in open(raw):
    f = line.split()
    if len(f) < 5 or f[0] != "fsbench" or f[3] == "daemon_cpu":
        continue
    _, _, tgt, ph, s = f[:5]
    tgt = "ftsb-fs" if tgt == "custom" else tgt
    targets[tgt] = 1
    phases[ph] = 1
    secs[(tgt, ph)].append(float(s))
    for kv in f[5:]:
        if kv.startswith("iops="):
            iops[(tgt, ph)].append(float(kv[5:]))


def cost(t, ph):
    """A time-like cost: seconds, or 1/IOPS for the fixed-time random phase."""
    if ph == "rand_rw" and iops.get((t, ph)):
        return 1.0 / st.median(iops[(t, ph)])
    if (t, ph) in secs:
        return st.median(secs[(t, ph)])
    return None


rows = []
print("| phase | " + " | ".join(targets) + " | ftsb-fs / native | ftsb-fs / fuse-overlayfs |")
print("|---|" + "---|" * (len(targets) + 2))
for ph in phases:
    cells, ratios = [], {}
    for t in targets:
        c = cost(t, ph)
        n = cost("native", ph)
        if c is None:
            cells.append("-")
            continue
        ratios[t] = c / n if n else float("nan")
        shown = "%.0f IOPS" % st.median(iops[(t, ph)]) if ph == "rand_rw" and iops.get((t, ph)) else "%.3fs" % c
        cells.append("%s (x%.2f)" % (shown, ratios[t]))
    v, fo = cost("ftsb-fs", ph), cost("fuse-overlayfs", ph)
    vn = ratios.get("ftsb-fs", float("nan"))
    vf = v / fo if v and fo else float("nan")
    print("| %s | %s | %.2f | %.2f |" % (ph, " | ".join(cells), vn, vf))
    rows.append((ph, ratios, vn, vf))

with open(out + "/fsbench.csv", "w") as f:
    f.write("phase,target,median_cost,ratio_to_native\n")
    for ph in phases:
        for t in targets:
            c = cost(t, ph)
            if c is not None:
                n = cost("native", ph)
                f.write("%s,%s,%.6g,%.4f\n" % (ph, t, c, c / n if n else float("nan")))

# An SVG chart: one group of bars per phase, log-scale ratio to native, 1x line.
tg = list(targets)
colors = ["#555555", "#2b7bb9", "#d95f02", "#7570b3", "#1b9e77", "#e7298a"]
W, H, left, top, bottom = 960, 420, 60, 30, 80
gw = (W - left - 20) / max(1, len(rows))
bw = gw * 0.8 / max(1, len(tg))
lo, hi = 0.5, max([2.0] + [r for _, rs, _, _ in rows for r in rs.values() if r == r]) * 1.2
y = lambda r: top + (H - top - bottom) * (1 - (math.log(r) - math.log(lo)) / (math.log(hi) - math.log(lo)))
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (W, H),
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="%d" y="18" font-size="13">time relative to native ext4 (log scale; lower is better)</text>' % left]
for r in [0.5, 1, 2, 3, 5, 10, 20, 50]:
    if lo <= r <= hi:
        svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>' % (left, W - 20, y(r), y(r), "#000" if r == 1 else "#ddd"))
        svg.append('<text x="%d" y="%.1f" text-anchor="end">%gx</text>' % (left - 4, y(r) + 4, r))
for i, (ph, rs, _, _) in enumerate(rows):
    x0 = left + i * gw + gw * 0.1
    for j, t in enumerate(tg):
        r = rs.get(t)
        if r is None or r != r:
            continue
        yy = y(max(lo, min(hi, r)))
        base = y(lo)
        svg.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s x%.2f</title></rect>'
                   % (x0 + j * bw, yy, bw - 1, base - yy, colors[j % len(colors)], t, ph, r))
    svg.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (left + i * gw + gw / 2, H - bottom + 16, ph))
for j, t in enumerate(tg):
    svg.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>'
               % (left + j * 140, H - 30, colors[j % len(colors)], left + j * 140 + 14, H - 21, t))
svg.append("</svg>")
open(out + "/fsbench.svg", "w").write("\n".join(svg))
print("\nwrote %s/fsbench.csv and %s/fsbench.svg" % (out, out))
