/* fastmlops drift report: sorting, filtering and the per-column pictures.
   Plain JavaScript and inline SVG, no library and no network: the data is the
   JSON embedded in #report-data (docs/drift-report-json.md, "plot" of each
   column). A column's pictures are drawn the first time it is opened. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var cols = data.columns;
  var uid = 0;

  // ------------------------------------------------------------ helpers
  function el(tag, attrs, parent, text) {
    var node = document.createElementNS(NS, tag);
    for (var k in attrs) { if (attrs[k] !== undefined) node.setAttribute(k, attrs[k]); }
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function fin(x) { return typeof x === "number" && isFinite(x); }
  function fmt(x) {
    if (!fin(x)) return "–";
    var a = Math.abs(x);
    if (a === 0) return "0";
    if (a >= 1e-3 && a < 1e5) return String(+x.toPrecision(3));
    return x.toExponential(1);
  }
  function exact(x) {  // a location: every integer digit and two more (1979.75, not 1980)
    if (!fin(x)) return "–";
    if (x === 0) return "0";
    var a = Math.abs(x), whole = a >= 1 ? Math.floor(Math.log10(a)) + 1 : 0;
    if (a < 1e-3 || a >= 1e15) return x.toExponential(5).replace(/\.?0+e/, "e");
    return String(+x.toPrecision(Math.min(15, Math.max(6, whole + 2))));
  }
  // Labels of axis ticks spaced `step` apart: as many decimals as the step
  // needs (1960, 1965 rather than 1.96e3, 1.97e3; 0.25 steps keep two), one
  // unit for the whole axis (25k, 30k), and more digits if two would read alike.
  function tickLabels(values, step) {
    var top = 0;
    values.forEach(function (v) { top = Math.max(top, Math.abs(v)); });
    function fixed(v, s, d0) {
      return v.toFixed(Math.max(0, Math.min(20, d0 - Math.floor(Math.log10(s) + 1e-9))));
    }
    function label(v, extra) {
      if (v === 0) return "0";
      if (top >= 1e4 && top < 1e9) {
        var div = top >= 1e6 ? 1e6 : 1e3;
        return fixed(v / div, step / div, extra) + (div === 1e6 ? "M" : "k");
      }
      if (top >= 1e-3 && top < 1e4) return fixed(v, step, extra);
      var d = Math.floor(Math.log10(top)) - Math.floor(Math.log10(step) + 1e-9) + extra;
      return v.toExponential(Math.max(0, Math.min(20, d)));
    }
    for (var extra = 0; extra < 6; extra++) {
      var out = values.map(function (v) { return label(v, extra); }), seen = {}, ok = true;
      out.forEach(function (t) { if (seen[t]) ok = false; seen[t] = 1; });
      if (ok) return out;
    }
    return values.map(exact);
  }
  function pct(x) {
    if (!fin(x)) return "–";
    return (100 * x).toFixed(x !== 0 && Math.abs(x) < 0.1 ? 1 : 0) + " %";
  }
  function sum(a) { var s = 0; for (var i = 0; i < a.length; i++) s += a[i] || 0; return s; }
  // Round tick values covering [lo, hi] (about n of them); .step is their spacing.
  function ticks(lo, hi, n) {
    if (!(hi > lo)) { var one = [lo]; one.step = Math.abs(lo) || 1; return one; }
    var raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), r = raw / mag;
    var step = (r >= 5 ? 10 : r >= 2 ? 5 : r >= 1 ? 2 : 1) * mag;
    if (r < 1.5) step = mag;
    var out = [], first = Math.ceil(lo / step - 1e-9);
    for (var i = 0; (first + i) * step <= hi + step * 1e-9 && i < 100; i++) {
      var v = (first + i) * step;  // a multiple of the step, not a running sum
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    out.step = step;
    return out;
  }
  function scale(d0, d1, r0, r1) {
    var k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
    return function (v) { return r0 + (v - d0) * k; };
  }

  // A chart frame: title, legend, axes with labels; returns scales and the plot group.
  function frame(title, xlabel, ylabel, xdom, ydom, opts) {
    var W = opts.width || 440, H = opts.height || 260,
        m = {l: opts.left || 58, r: opts.right || 14, t: 44, b: 44};
    var svg = el("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
                         "aria-label": opts.label || title});
    el("text", {x: m.l, y: 16, "class": "title"}, svg, title);
    var legend = el("g", {transform: "translate(" + m.l + ",24)"}, svg);
    var lx = 0, ly = 0;
    opts.legend.forEach(function (item) {
      var wide = 30 + item.text.length * 6.3;
      if (lx > 0 && m.l + lx + wide > W - 4) { lx = 0; ly += 15; }  // wrap: stay inside
      var g = el("g", {transform: "translate(" + lx + "," + ly + ")"}, legend);
      if (item.line) {
        el("line", {x1: 0, x2: 18, y1: 6, y2: 6, stroke: item.color, "stroke-width": 2.5,
                    "stroke-dasharray": item.dash}, g);
      } else {
        el("rect", {x: 0, y: 1, width: 14, height: 10, fill: item.fill || item.color,
                    "fill-opacity": item.opacity || 1, stroke: item.color}, g);
      }
      el("text", {x: 22, y: 10}, g, item.text);
      lx += wide;
    });
    m.t += ly;
    H += ly;
    svg.setAttribute("height", H);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    var x = scale(xdom[0], xdom[1], m.l, W - m.r), y = scale(ydom[0], ydom[1], H - m.b, m.t);
    var axes = el("g", {stroke: "#5f6368"}, svg);
    el("line", {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b}, axes);
    el("line", {x1: m.l, x2: m.l, y1: m.t, y2: H - m.b}, axes);
    var known = opts.known || xdom;  // no tick where the axis' extent is not known
    var xt = (opts.xticks || ticks(known[0], known[1], 5)).filter(function (v) {
      var px = x(v);
      return px >= m.l - 0.5 && px <= W - m.r + 0.5 && v >= known[0] - 1e-9 * Math.abs(known[1] - known[0])
        && v <= known[1] + 1e-9 * Math.abs(known[1] - known[0]);
    });
    var xl = opts.xfmt ? xt.map(opts.xfmt) : tickLabels(xt, ticks(known[0], known[1], 5).step);
    xt.forEach(function (v, i) {
      var px = x(v), half = xl[i].length * 3.3;  // keep the label inside the picture
      el("line", {x1: px, x2: px, y1: H - m.b, y2: H - m.b + 4}, axes);
      el("text", {x: px, y: H - m.b + 16, stroke: "none", "class": "xtick",
                  "text-anchor": px + half > W - 2 ? "end" : px - half < 2 ? "start" : "middle"},
         svg, xl[i]);
    });
    if (!opts.noY) ticks(ydom[0], ydom[1], 4).forEach(function (v) {
      var py = y(v);
      el("line", {x1: m.l - 4, x2: W - m.r, y1: py, y2: py, stroke: "#eceef1"}, svg);
      el("text", {x: m.l - 7, y: py + 4, "text-anchor": "end"}, svg, (opts.yfmt || fmt)(v));
    });
    el("text", {x: (m.l + W - m.r) / 2, y: H - 8, "text-anchor": "middle"}, svg, xlabel);
    el("text", {x: 13, y: (m.t + H - m.b) / 2, "text-anchor": "middle",
                transform: "rotate(-90 13 " + (m.t + H - m.b) / 2 + ")"}, svg, ylabel);
    var plot = el("g", {}, svg);
    svg.insertBefore(plot, axes);
    return {svg: svg, plot: plot, x: x, y: y, m: m, W: W, H: H};
  }

  var LEGEND = [{text: "reference", color: "var(--ref)", opacity: 0.35},
                {text: "current", color: "var(--cur)", line: true}];

  // ---------------------------------------------- numeric: histogram + ECDF
  // The picture spans both samples: the reference's bins, and when the current
  // data has values outside the reference's range, a bin below and one above it
  // (plot.below / plot.above). Their outer ends are the current's extreme values,
  // or null when the counts do not carry them: then they get a nominal width.
  function finiteEdges(p) {
    var out = p.edges.slice(), k = out.length - 1, i;
    var f = out.filter(fin), span = f.length > 1 ? f[f.length - 1] - f[0] : 0;
    var w = span > 0 ? span * 0.15 : (f.length && f[0] !== 0 ? Math.abs(f[0]) * 0.1 : 1);
    if (!fin(out[0])) {
      i = 1;
      while (i < k && !fin(out[i])) i++;
      var left = (p.below || !fin(out[i + 1])) ? w : Math.max(out[i + 1] - out[i], 0) || w;
      for (var j = i - 1; j >= 0; j--) out[j] = out[j + 1] - left;
    }
    if (!fin(out[k])) {
      i = k - 1;
      while (i > 0 && !fin(out[i])) i--;
      var right = (p.above || !fin(out[i - 1])) ? w : Math.max(out[i] - out[i - 1], 0) || w;
      for (var j2 = i + 1; j2 <= k; j2++) out[j2] = out[j2 - 1] + right;
    }
    return out;
  }
  // The part of the axis whose values are known: without the nominal ends.
  function knownRange(p, e) {
    var a = 0, b = e.length - 1;
    while (a < b && !fin(p.edges[a])) a++;
    while (b > a && !fin(p.edges[b])) b--;
    return [e[a], e[b]];
  }
  // The reference's range [lo, hi] in the picture's edges.
  function refRange(p, e) {
    return [e[p.below ? 1 : 0], e[e.length - 1 - (p.above ? 1 : 0)]];
  }
  var OUT_FILL = "#9aa0a6";
  function outside(f, p, e, id) {  // hatch the parts outside the reference's range
    var defs = el("defs", {}, f.svg), k = e.length - 1, r = refRange(p, e);
    var pat = el("pattern", {id: id, width: 7, height: 7, patternUnits: "userSpaceOnUse",
                             patternTransform: "rotate(45)"}, defs);
    el("line", {x1: 0, y1: 0, x2: 0, y2: 7, stroke: OUT_FILL, "stroke-width": 1.5,
                "stroke-opacity": 0.6}, pat);
    var top = f.m.t, bottom = f.H - f.m.b;
    [[p.below, e[0], r[0], "low"], [p.above, r[1], e[k], "high"]].forEach(function (s) {
      if (!s[0]) return;
      var x0 = f.x(s[1]), x1 = f.x(s[2]);
      el("rect", {x: Math.min(x0, x1), y: top, width: Math.abs(x1 - x0), height: bottom - top,
                  fill: "url(#" + id + ")", "class": "outside", "data-side": s[3]}, f.plot);
    });
    [[p.below, 0, "start"], [p.above, k, "end"]].forEach(function (s) {
      if (!s[0] || fin(p.edges[s[1]])) return;  // a nominal end: say so
      var t = el("text", {x: f.x(e[s[1]]), y: bottom + 16, "text-anchor": s[2], fill: "#5f6368",
                          "class": "unknown-end"}, f.svg, "…?");
      el("title", {}, t, "the current has values " + (s[1] ? "above" : "below")
         + " the reference's range; how far they reach is not recorded");
    });
    [[r[0], "low"], [r[1], "high"]].forEach(function (s) {
      var px = f.x(s[0]);
      el("line", {x1: px, x2: px, y1: top, y2: bottom, stroke: "#5f6368", "stroke-width": 1,
                  "stroke-dasharray": "3 3", "class": "ref-range", "data-side": s[1]}, f.plot);
    });
  }
  function outsideLegend(p, legend, id) {
    if (p.below || p.above) legend.push({text: "beyond the reference", color: OUT_FILL,
                                         fill: "url(#" + id + ")"});
    return legend;
  }

  function histogram(c) {
    var p = c.plot, e = finiteEdges(p), rc = p.reference_counts, cc = p.current_counts;
    var nr = sum(rc) || 1, nc = sum(cc) || 1, k = rc.length, top = 0, i;
    var rs = [], cs = [];
    for (i = 0; i < k; i++) { rs.push(rc[i] / nr); cs.push(cc[i] / nc); top = Math.max(top, rs[i], cs[i]); }
    var lo = e[0], hi = e[k];
    if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
    var n = k - (p.below ? 1 : 0) - (p.above ? 1 : 0), id = "out" + (++uid);
    var f = frame("Share of values in each of the reference's " + (n === 1 ? "range" : n + " ranges"), c.name,
                  "share of values", [lo, hi], [0, Math.max(top * 1.12, 1e-9)],
                  {legend: outsideLegend(p, LEGEND.slice(), id), yfmt: pct, width: 480,
                   known: knownRange(p, e),
                   label: "Histogram of " + c.name + ": reference bars and current outline"});
    outside(f, p, e, id);
    for (i = 0; i < k; i++) {
      var x0 = f.x(e[i]), x1 = Math.max(f.x(e[i + 1]), x0 + 2);
      el("rect", {x: x0, y: f.y(rs[i]), width: x1 - x0, height: f.y(0) - f.y(rs[i]),
                  fill: "var(--ref)", "fill-opacity": 0.35, stroke: "var(--ref)",
                  "stroke-width": 1}, f.plot);
    }
    var d = "M" + f.x(e[0]) + "," + f.y(0);
    for (i = 0; i < k; i++) d += "L" + f.x(e[i]) + "," + f.y(cs[i]) + "L" + Math.max(f.x(e[i + 1]), f.x(e[i]) + 2) + "," + f.y(cs[i]);
    d += "L" + f.x(e[k]) + "," + f.y(0);
    el("path", {d: d, fill: "none", stroke: "var(--cur)", "stroke-width": 2.5,
                "stroke-linejoin": "miter", "class": "current"}, f.plot);
    return f.svg;
  }

  function stepAt(grid, cdf, v) {  // the ECDF's value at v: last grid point <= v
    var lo = 0, hi = grid.length - 1, best = -1;
    while (lo <= hi) { var mid = (lo + hi) >> 1; if (grid[mid] <= v) { best = mid; lo = mid + 1; } else hi = mid - 1; }
    return best < 0 ? 0 : cdf[best];
  }

  function ecdf(c) {
    var p = c.plot, e = finiteEdges(p), g = p.grid.slice(), i, last = g.length - 1;
    if (p.below && !fin(g[0])) g[0] = e[0];  // the unknown ends, as in the histogram
    if (p.above && !fin(g[last])) g[last] = e[e.length - 1];
    var xs = g.filter(fin), lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs);
    if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
    var id = "out" + (++uid);
    var f = frame("Cumulative share of values (ECDF)", c.name, "share of values ≤ x",
                  [lo, hi], [0, 1],
                  {legend: outsideLegend(p, [{text: "reference", color: "var(--ref)", line: true},
                            {text: "current", color: "var(--cur)", line: true, dash: "6 3"},
                            {text: "largest gap (KS D)", color: "#000", line: true}], id),
                   yfmt: pct, width: 480, known: knownRange(p, e),
                   label: "Cumulative distributions of " + c.name});
    outside(f, p, e, id);
    // Steps at the grid points; outside the reference's range a straight line
    // (where the current's values lie there is not known, only how many).
    function path(cdf) {
      var d = "M" + f.x(g[0]) + "," + f.y(0), prev = 0;
      for (i = 0; i < g.length; i++) {
        if (!fin(g[i]) || !fin(cdf[i])) continue;
        var ramp = (p.below && i === 1) || (p.above && i === last);
        d += ramp ? "L" + f.x(g[i]) + "," + f.y(cdf[i])
          : "L" + f.x(g[i]) + "," + f.y(prev) + "L" + f.x(g[i]) + "," + f.y(cdf[i]);
        prev = cdf[i];
      }
      return d + "L" + f.x(hi) + "," + f.y(prev);
    }
    el("path", {d: path(p.reference_cdf), fill: "none", stroke: "var(--ref)", "stroke-width": 2.5,
                "class": "reference"}, f.plot);
    el("path", {d: path(p.current_cdf), fill: "none", stroke: "var(--cur)", "stroke-width": 2.5,
                "stroke-dasharray": "6 3", "class": "current"}, f.plot);
    if (fin(c.ks_location)) {
      var L = c.ks_location, a = stepAt(g, p.reference_cdf, L), b = stepAt(g, p.current_cdf, L);
      var px = f.x(Math.min(Math.max(L, lo), hi));
      el("line", {x1: px, x2: px, y1: f.y(a), y2: f.y(b), stroke: "#000", "stroke-width": 2}, f.plot);
      [a, b].forEach(function (v) {
        el("line", {x1: px - 5, x2: px + 5, y1: f.y(v), y2: f.y(v), stroke: "#000", "stroke-width": 2}, f.plot);
      });
      var text = "D = " + fmt(c.ks_statistic) + " at " + exact(L), wide = text.length * 6.6 + 8;
      var right = px + wide <= f.W - 2 && (px < (f.m.l + f.W - f.m.r) / 2 || px - wide < 2);
      el("text", {x: px + (right ? 8 : -8), y: f.y((a + b) / 2) + 4,
                  "text-anchor": right ? "start" : "end", "font-weight": "600",
                  stroke: "#fff", "stroke-width": 4, "paint-order": "stroke"}, f.plot, text);
    }
    return f.svg;
  }

  // ---------------------------------------------------- categorical: shares
  function categories(c) {
    var p = c.plot, names = p.categories, rc = p.reference_counts, cc = p.current_counts;
    var oR = p.other_count_reference || 0, oC = p.other_count_current || 0, un = p.unseen_count || 0;
    var nr = c.n_reference > 0 ? c.n_reference : sum(rc) + oR;
    var nc = c.n_current > 0 ? c.n_current : sum(cc) + oC + un;
    var rows = names.map(function (n, i) { return {label: String(n), r: rc[i] / nr, c: cc[i] / nc}; });
    rows.sort(function (a, b) { return Math.max(b.r, b.c) - Math.max(a.r, a.c); });
    var MAX = 15, hiddenRows = rows.length - MAX;
    rows = rows.slice(0, MAX);
    if (oR || oC) rows.push({label: "other", r: oR / nr, c: oC / nc, other: true});
    // values outside the reference's categories, counted once (not in "other");
    // a truncated reference kept its most frequent ones: new and rare look alike
    var newWord = p.truncated ? "new or rare" : "new";
    if (un) rows.push({label: p.truncated ? "new or rare (not among the kept categories)"
                       : "new (not in reference)", r: 0, c: un / nc, unseen: true});
    var top = 0;
    rows.forEach(function (r) { top = Math.max(top, r.r, r.c); });
    var band = 26, H = 44 + 44 + band * rows.length + (hiddenRows > 0 ? 14 : 0);
    var id = "hatch" + (++uid);
    var legend = LEGEND.slice();
    legend[1] = {text: "current", color: "var(--cur)"};
    if (un) legend.push({text: newWord + " category", color: "var(--cur)", fill: "url(#" + id + ")"});
    // room on the right for the widest "12.3 % → 45.6 %" label: it stays in the picture
    var f = frame("Share of values per category", "share of values", "", [0, Math.max(top * 1.05, 1e-9)],
                  [0, 1], {legend: legend, height: H, width: 560, xfmt: pct, left: 130, noY: true,
                           right: 118,
                           label: "Category shares of " + c.name + ", reference and current"});
    var defs = el("defs", {}, f.svg);
    var pat = el("pattern", {id: id, width: 6, height: 6, patternUnits: "userSpaceOnUse",
                             patternTransform: "rotate(45)"}, defs);
    el("rect", {width: 6, height: 6, fill: "#fff"}, pat);
    el("line", {x1: 0, y1: 0, x2: 0, y2: 6, stroke: "var(--cur)", "stroke-width": 3}, pat);
    // Categories run top to bottom; the y scale of the frame is not used here.
    var x0 = f.x(0), yTop = f.m.t;
    rows.forEach(function (r, i) {
      var y0 = yTop + i * band + 3;
      var label = r.label.length > 18 ? r.label.slice(0, 17) + "…" : r.label;
      var t = el("text", {x: x0 - 6, y: y0 + 14, "text-anchor": "end",
                          "font-style": r.other || r.unseen ? "italic" : "normal"}, f.svg, r.unseen ? newWord : label);
      el("title", {}, t, r.label);
      if (!r.unseen) {
        el("rect", {x: x0, y: y0, width: Math.max(f.x(r.r) - x0, r.r > 0 ? 1 : 0), height: 9,
                    fill: "var(--ref)", "fill-opacity": 0.35, stroke: "var(--ref)"}, f.plot);
      }
      el("rect", {x: x0, y: y0 + 10, width: Math.max(f.x(r.c) - x0, r.c > 0 ? 1 : 0), height: 9,
                  fill: r.unseen ? "url(#" + id + ")" : "var(--cur)", stroke: "var(--cur)"}, f.plot);
      el("text", {x: Math.max(f.x(r.r), f.x(r.c)) + 4, y: y0 + 14, fill: "#5f6368"}, f.plot,
         (r.unseen ? "" : pct(r.r) + " → ") + pct(r.c));
    });
    if (hiddenRows > 0) {
      el("text", {x: x0, y: yTop + rows.length * band + 12, fill: "#5f6368"}, f.svg,
         hiddenRows + " smaller categories not shown");
    }
    return f.svg;
  }

  function draw(j) {
    var box = bodies[j] && bodies[j].querySelector(".plots");
    if (!box || box.childNodes.length) return;
    var c = cols[j];
    try {
      if (!c.plot) {
        box.textContent = "No picture: this column has no values to compare.";
      } else if (c.kind === "categorical") {
        box.appendChild(categories(c));
      } else {
        box.appendChild(histogram(c));
        box.appendChild(ecdf(c));
      }
    } catch (err) {  // a malformed plot must not stop the rest of the report
      box.textContent = "No picture for this column (" + err.message + ").";
    }
  }

  // --------------------------------------------------------------- table
  var ICON = {drift: "▲", watch: "●", ok: "✓"};
  var ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
  function esc(v) { return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (ch) { return ESC[ch]; }); }
  function num(x) {
    if (x === null || x === undefined) return "–";
    return fmt(x);
  }
  function pval(x) {
    if (!fin(x)) return "–";
    if (x < 1e-300) return "&lt;1e-300";
    return x >= 1e-3 ? String(+x.toPrecision(2)) : x.toExponential(1);
  }
  function pct1(x) { return fin(x) ? (100 * x).toFixed(1) + " %" : "–"; }
  function int(x) { return fin(x) ? Math.round(x).toLocaleString("en-US") : "–"; }
  var HOWTO = [
    "Blue: reference, orange: current. Left: how the values fall into the reference's ranges "
    + "(the ranges are its quantiles, so each blue bar holds an equal share); hatched grey: "
    + "outside the reference's range, where the current's values are counted in a bin of their "
    + "own below or above it. Right: the share of values at or below each x; the black bar marks "
    + "the largest gap, the KS distance D.",
    "Blue: reference, orange: current; the hatched bar counts values of categories the reference "
    + "never had. A bar that grew or shrank shows a category whose share changed."];
  var NCOL = document.getElementById("cols").tHead.rows[0].cells.length;

  function rowHtml(j) {
    var c = cols[j], v = esc(c.verdict), missing = pct1(c.nan_share);
    if (fin(c.nan_share) && fin(c.reference_nan_share) && Math.abs(c.nan_share - c.reference_nan_share) >= 5e-4) {
      missing += ' <span class="muted">(was ' + pct1(c.reference_nan_share) + ")</span>";
    }
    var tier = c.psi_tier === "minor" || c.psi_tier === "major" ? ' <span class="muted">' + esc(c.psi_tier) + "</span>" : "";
    return '<tbody id="c' + j + '" class="col v-' + v + '"><tr class="main"><th scope="row">'
      + '<button type="button" class="open" aria-expanded="false" aria-controls="d' + j + '">'
      + '<span class="tri" aria-hidden="true"></span>' + esc(c.name) + "</button></th>"
      + "<td>" + esc(c.kind) + '</td><td><span class="badge ' + v + '">' + (ICON[c.verdict] || "") + " " + v + "</span></td>"
      + '<td title="' + esc(c.reason_words) + '">' + (esc(c.reasons) || "–") + '</td><td class="n">' + pval(c.pvalue) + '</td><td class="n">'
      + num(c.ks_statistic) + '</td><td class="n">' + num(c.psi) + tier + '</td><td class="n">' + missing
      + '</td><td class="n">' + int(c.n_reference) + " / " + int(c.n_current) + "</td></tr></tbody>";
  }

  function statsHtml(c) {
    var items = [];
    if (c.kind === "numeric") {
      items.push(["KS distance D", num(c.ks_statistic)], ["KS p-value", pval(c.ks_pvalue)],
                 ["largest gap at", fin(c.ks_location) ? exact(c.ks_location) : "–"]);
      if (fin(c.power)) items.push(["power (0.5 sd shift)", num(c.power)]);
    }
    items.push(["χ²", num(c.chi2_statistic)], ["χ² p-value", pval(c.chi2_pvalue)],
               ["χ² degrees of freedom", int(c.chi2_dof)],
               ["p-value used (after correction)", pval(c.pvalue)],
               ["PSI", num(c.psi) + " (" + esc(c.psi_tier || "n/a") + ")"],
               ["KL divergence", num(c.kl)], ["JS divergence", num(c.jsd)],
               ["missing: reference → current", pct1(c.reference_nan_share) + " → " + pct1(c.nan_share)]);
    var u = c.unseen;
    if (u && u.count) {
      var ex = (u.examples || []).slice(0, 5).map(esc).join(", ");
      items.push(["new categories", int(u.distinct) + " distinct, " + int(u.count) + " values ("
                  + pct1(u.share) + ")" + (ex ? ": " + ex : "")]);
    }
    if (c.other) items.push(["categories kept", "the reference's most frequent ones; the rest are counted as “other”"]);
    items = items.filter(function (it) { return it[1] !== "–"; });
    return '<dl class="stats">' + items.map(function (it) { return "<dt>" + it[0] + "</dt><dd>" + it[1] + "</dd>"; }).join("") + "</dl>";
  }

  var table = document.getElementById("cols"), bodies = {};
  function body(j) {  // the tbody of column j, built once
    var b = bodies[j];
    if (!b) {
      var t = document.createElement("table");
      t.innerHTML = rowHtml(j);
      b = bodies[j] = t.tBodies[0];
    }
    return b;
  }
  function setOpen(j, open) {
    var b = body(j), btn = b.querySelector("button.open"), d = document.getElementById("d" + j);
    if (open && !d) {
      d = b.insertRow(-1);
      d.className = "detail";
      d.id = "d" + j;
      var c = cols[j], why = c.reason_words ? '<p class="explain"><span class="muted">Why: </span>'
        + esc(c.reason_words) + ".</p>" : "";
      var effect = c.effect ? '<p class="effect">' + esc(c.effect) + "</p>" : "";
      var notes = c.notes && c.notes.length ? '<ul class="col-notes">' + c.notes.map(function (t) {
        return "<li>" + esc(t) + "</li>"; }).join("") + "</ul>" : "";
      d.innerHTML = '<td colspan="' + NCOL + '"><p class="explain">' + esc(c.explanation)
        + "</p>" + effect + why + notes + '<div class="plots" data-col="' + j + '"></div><p class="hint">'
        + HOWTO[c.kind === "categorical" ? 1 : 0] + "</p>" + statsHtml(c) + "</td>";
    }
    btn.setAttribute("aria-expanded", open ? "true" : "false");
    if (d) d.hidden = !open;
    if (open) draw(j);
  }
  table.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button.open");
    if (!btn) return;
    setOpen(+btn.getAttribute("aria-controls").slice(1), btn.getAttribute("aria-expanded") !== "true");
  });

  // ------------------------------------------------- sort, filter, show
  var RANK = {drift: 0, watch: 1, ok: 2};
  var KEYS = {
    name: function (c) { return c.name; }, kind: function (c) { return c.kind; },
    verdict: function (c) { return RANK[c.verdict]; }, reasons: function (c) { return c.reasons; },
    pvalue: function (c) { return c.pvalue; }, ks: function (c) { return c.ks_statistic; },
    psi: function (c) { return c.psi; }, missing: function (c) { return c.nan_share; },
    rows: function (c) { return c.n_current; }
  };
  var FIRST_DESC = {ks: 1, psi: 1, missing: 1, rows: 1};
  var rankOf = [];
  data.order.forEach(function (j, r) { rankOf[j] = r; });
  var sorted = data.order.slice(), showAll = false;
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var key = th.getAttribute("data-key"), now = th.getAttribute("aria-sort");
      var desc = now === "none" ? !!FIRST_DESC[key] : now === "ascending";
      Array.prototype.forEach.call(headers, function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      var get = KEYS[key];
      sorted = data.order.slice().sort(function (a, b) {
        var va = get(cols[a]), vb = get(cols[b]);
        var na = va === null || va === undefined || (typeof va === "number" && isNaN(va));
        var nb = vb === null || vb === undefined || (typeof vb === "number" && isNaN(vb));
        if (na || nb) return na === nb ? rankOf[a] - rankOf[b] : na ? 1 : -1;
        var r = typeof va === "string" ? va.localeCompare(vb) : va - vb;
        return (desc ? -r : r) || rankOf[a] - rankOf[b];
      });
      show();
    });
  });

  var q = document.getElementById("q"), kind = document.getElementById("kind");
  var shown = document.getElementById("shown"), more = document.getElementById("more");
  var moreButton = document.getElementById("show-all");
  function show() {
    var text = q.value.trim().toLowerCase(), k = kind.value, verdicts = {};
    Array.prototype.forEach.call(document.querySelectorAll('input[name="verdict"]'), function (b) {
      verdicts[b.value] = b.checked;
    });
    var match = sorted.filter(function (j) {
      var c = cols[j];
      return verdicts[c.verdict] !== false && (!k || c.kind === k)
        && (!text || c.name.toLowerCase().indexOf(text) >= 0);
    });
    var visible = showAll ? match : match.slice(0, data.page);
    var missing = visible.filter(function (j) { return !bodies[j]; });
    if (missing.length) {  // build the new rows in one parse
      var t = document.createElement("table");
      t.innerHTML = missing.map(rowHtml).join("");
      Array.prototype.slice.call(t.tBodies).forEach(function (b, i) { bodies[missing[i]] = b; });
    }
    Array.prototype.slice.call(table.tBodies).forEach(function (b) { table.removeChild(b); });
    var frag = document.createDocumentFragment();
    visible.forEach(function (j) { frag.appendChild(bodies[j]); });
    table.appendChild(frag);
    shown.textContent = match.length === cols.length ? cols.length + " columns"
      : match.length + " of " + cols.length + " columns";
    more.hidden = visible.length === match.length;
    moreButton.textContent = "Show all " + match.length + " (" + (match.length - visible.length) + " more)";
  }
  moreButton.addEventListener("click", function () { showAll = true; show(); });
  q.addEventListener("input", show);
  kind.addEventListener("change", show);
  Array.prototype.forEach.call(document.querySelectorAll('input[name="verdict"]'), function (b) {
    b.addEventListener("change", show);
  });
  show();
  data.open.forEach(function (j) { setOpen(j, true); });

  window.fastmlopsReport = {ready: true, readyMs: performance.now(), draw: draw, open: setOpen};
})();
