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
  function tick(x) {  // axis labels: 25k, 1.2M rather than 2.5e+4
    var a = Math.abs(x);
    if (a >= 1e4 && a < 1e6) return String(+(x / 1e3).toPrecision(3)) + "k";
    if (a >= 1e6 && a < 1e9) return String(+(x / 1e6).toPrecision(3)) + "M";
    return fmt(x);
  }
  function pct(x) {
    if (!fin(x)) return "–";
    return (100 * x).toFixed(x !== 0 && Math.abs(x) < 0.1 ? 1 : 0) + " %";
  }
  function sum(a) { var s = 0; for (var i = 0; i < a.length; i++) s += a[i] || 0; return s; }
  // Round tick values covering [lo, hi] (about n of them).
  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    var raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), r = raw / mag;
    var step = (r >= 5 ? 10 : r >= 2 ? 5 : r >= 1 ? 2 : 1) * mag;
    if (r < 1.5) step = mag;
    var out = [], start = Math.ceil(lo / step - 1e-9) * step;
    for (var v = start; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function scale(d0, d1, r0, r1) {
    var k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
    return function (v) { return r0 + (v - d0) * k; };
  }

  // A chart frame: title, legend, axes with labels; returns scales and the plot group.
  function frame(title, xlabel, ylabel, xdom, ydom, opts) {
    var W = opts.width || 440, H = opts.height || 260, m = {l: opts.left || 58, r: 14, t: 44, b: 44};
    var svg = el("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
                         "aria-label": opts.label || title});
    el("text", {x: m.l, y: 16, "class": "title"}, svg, title);
    var legend = el("g", {transform: "translate(" + m.l + ",24)"}, svg);
    var lx = 0;
    opts.legend.forEach(function (item) {
      var g = el("g", {transform: "translate(" + lx + ",0)"}, legend);
      if (item.line) {
        el("line", {x1: 0, x2: 18, y1: 6, y2: 6, stroke: item.color, "stroke-width": 2.5,
                    "stroke-dasharray": item.dash}, g);
      } else {
        el("rect", {x: 0, y: 1, width: 14, height: 10, fill: item.fill || item.color,
                    "fill-opacity": item.opacity || 1, stroke: item.color}, g);
      }
      el("text", {x: 22, y: 10}, g, item.text);
      lx += 30 + item.text.length * 6.3;
    });
    var x = scale(xdom[0], xdom[1], m.l, W - m.r), y = scale(ydom[0], ydom[1], H - m.b, m.t);
    var axes = el("g", {stroke: "#5f6368"}, svg);
    el("line", {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b}, axes);
    el("line", {x1: m.l, x2: m.l, y1: m.t, y2: H - m.b}, axes);
    (opts.xticks || ticks(xdom[0], xdom[1], 5)).forEach(function (v) {
      var px = x(v);
      if (px < m.l - 0.5 || px > W - m.r + 0.5) return;
      el("line", {x1: px, x2: px, y1: H - m.b, y2: H - m.b + 4}, axes);
      el("text", {x: px, y: H - m.b + 16, "text-anchor": "middle", stroke: "none"}, svg,
         (opts.xfmt || tick)(v));
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
  function finiteEdges(e) {
    var out = e.slice(), k = out.length - 1;
    if (!fin(out[0])) out[0] = fin(out[1]) && fin(out[2]) ? out[1] - (out[2] - out[1]) : out[1] - 1;
    if (!fin(out[k])) out[k] = fin(out[k - 1]) && fin(out[k - 2]) ? out[k - 1] + (out[k - 1] - out[k - 2]) : out[k - 1] + 1;
    return out;
  }

  function histogram(c) {
    var p = c.plot, e = finiteEdges(p.edges), rc = p.reference_counts, cc = p.current_counts;
    var nr = sum(rc) || 1, nc = sum(cc) || 1, k = rc.length, top = 0, i;
    var rs = [], cs = [];
    for (i = 0; i < k; i++) { rs.push(rc[i] / nr); cs.push(cc[i] / nc); top = Math.max(top, rs[i], cs[i]); }
    var lo = e[0], hi = e[k];
    if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
    var f = frame("Share of values in each of the reference's " + k + " ranges", c.name,
                  "share of values", [lo, hi], [0, Math.max(top * 1.12, 1e-9)],
                  {legend: LEGEND, yfmt: pct,
                   label: "Histogram of " + c.name + ": reference bars and current outline"});
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
                "stroke-linejoin": "miter"}, f.plot);
    return f.svg;
  }

  function stepAt(grid, cdf, v) {  // the ECDF's value at v: last grid point <= v
    var lo = 0, hi = grid.length - 1, best = -1;
    while (lo <= hi) { var mid = (lo + hi) >> 1; if (grid[mid] <= v) { best = mid; lo = mid + 1; } else hi = mid - 1; }
    return best < 0 ? 0 : cdf[best];
  }

  function ecdf(c) {
    var p = c.plot, g = p.grid, i;
    var xs = g.filter(fin), lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs);
    if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
    var f = frame("Cumulative share of values (ECDF)", c.name, "share of values ≤ x",
                  [lo, hi], [0, 1],
                  {legend: [{text: "reference", color: "var(--ref)", line: true},
                            {text: "current", color: "var(--cur)", line: true, dash: "6 3"},
                            {text: "largest gap (KS D)", color: "#000", line: true}],
                   yfmt: pct, label: "Cumulative distributions of " + c.name});
    function path(cdf) {
      var d = "M" + f.x(g[0]) + "," + f.y(0), prev = 0;
      for (i = 0; i < g.length; i++) {
        if (!fin(g[i]) || !fin(cdf[i])) continue;
        d += "L" + f.x(g[i]) + "," + f.y(prev) + "L" + f.x(g[i]) + "," + f.y(cdf[i]);
        prev = cdf[i];
      }
      return d + "L" + f.x(hi) + "," + f.y(prev);
    }
    el("path", {d: path(p.reference_cdf), fill: "none", stroke: "var(--ref)", "stroke-width": 2.5}, f.plot);
    el("path", {d: path(p.current_cdf), fill: "none", stroke: "var(--cur)", "stroke-width": 2.5,
                "stroke-dasharray": "6 3"}, f.plot);
    if (fin(c.ks_location)) {
      var L = c.ks_location, a = stepAt(g, p.reference_cdf, L), b = stepAt(g, p.current_cdf, L);
      var px = f.x(Math.min(Math.max(L, lo), hi));
      el("line", {x1: px, x2: px, y1: f.y(a), y2: f.y(b), stroke: "#000", "stroke-width": 2}, f.plot);
      [a, b].forEach(function (v) {
        el("line", {x1: px - 5, x2: px + 5, y1: f.y(v), y2: f.y(v), stroke: "#000", "stroke-width": 2}, f.plot);
      });
      var right = px < (f.m.l + f.W - f.m.r) / 2;
      el("text", {x: px + (right ? 8 : -8), y: f.y((a + b) / 2) + 4,
                  "text-anchor": right ? "start" : "end", "font-weight": "600",
                  stroke: "#fff", "stroke-width": 4, "paint-order": "stroke"}, f.plot,
         "D = " + fmt(c.ks_statistic) + " at " + fmt(L));
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
    if (un) rows.push({label: "new (not in reference)", r: 0, c: un / nc, unseen: true});
    var top = 0;
    rows.forEach(function (r) { top = Math.max(top, r.r, r.c); });
    var band = 26, H = 44 + 44 + band * rows.length + (hiddenRows > 0 ? 14 : 0);
    var id = "hatch" + (++uid);
    var legend = LEGEND.slice();
    legend[1] = {text: "current", color: "var(--cur)"};
    if (un) legend.push({text: "new category", color: "var(--cur)", fill: "url(#" + id + ")"});
    var f = frame("Share of values per category", "share of values", "", [0, Math.max(top * 1.1, 1e-9)],
                  [0, 1], {legend: legend, height: H, width: 560, xfmt: pct, left: 130, noY: true,
                           label: "Category shares of " + c.name + ", reference and current"});
    var defs = el("defs", {}, f.svg);
    var pat = el("pattern", {id: id, width: 6, height: 6, patternUnits: "userSpaceOnUse",
                             patternTransform: "rotate(45)"}, defs);
    el("rect", {width: 6, height: 6, fill: "#fff"}, pat);
    el("line", {x1: 0, y1: 0, x2: 0, y2: 6, stroke: "var(--cur)", "stroke-width": 3}, pat);
    // Categories run top to bottom; the y scale of the frame is not used here.
    var x0 = f.x(0), yTop = 44;
    rows.forEach(function (r, i) {
      var y0 = yTop + i * band + 3;
      var label = r.label.length > 18 ? r.label.slice(0, 17) + "…" : r.label;
      var t = el("text", {x: x0 - 6, y: y0 + 14, "text-anchor": "end",
                          "font-style": r.other || r.unseen ? "italic" : "normal"}, f.svg, r.unseen ? "new" : label);
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
    + "(the ranges are its quantiles, so each blue bar holds an equal share). Right: the share of "
    + "values at or below each x; the black bar marks the largest gap, the KS distance D.",
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
      + "<td>" + (esc(c.reasons) || "–") + '</td><td class="n">' + pval(c.pvalue) + '</td><td class="n">'
      + num(c.ks_statistic) + '</td><td class="n">' + num(c.psi) + tier + '</td><td class="n">' + missing
      + '</td><td class="n">' + int(c.n_reference) + " / " + int(c.n_current) + "</td></tr></tbody>";
  }

  function statsHtml(c) {
    var items = [];
    if (c.kind === "numeric") {
      items.push(["KS distance D", num(c.ks_statistic)], ["KS p-value", pval(c.ks_pvalue)],
                 ["largest gap at", num(c.ks_location)]);
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
      d.innerHTML = '<td colspan="' + NCOL + '"><p class="explain">' + esc(cols[j].explanation)
        + '</p><div class="plots" data-col="' + j + '"></div><p class="hint">' + HOWTO[cols[j].kind === "categorical" ? 1 : 0]
        + "</p>" + statsHtml(cols[j]) + "</td>";
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
