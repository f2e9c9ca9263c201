/* fastmlops gate report: sorting and filtering of the slices table.  Plain
   JavaScript, no library and no network; every row is already in the page
   (it reads without JavaScript), this only reorders and hides rows. */
(function () {
  "use strict";
  var table = document.getElementById("slices");
  if (!table) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var onlyWorse = document.getElementById("only-worse");
  var shown = document.getElementById("shown");

  function value(row, k) {
    var v = row.cells[k].getAttribute("data-v");
    if (v === null) return row.cells[k].textContent;
    if (v === "") return NaN;
    return Number(v);
  }
  function cmp(a, b) {
    var na = typeof a === "number", nb = typeof b === "number";
    if (na && nb) {
      if (isNaN(a)) return isNaN(b) ? 0 : 1;
      if (isNaN(b)) return -1;
      return a - b;
    }
    return String(a).localeCompare(String(b));
  }
  function filter() {
    var n = 0;
    rows.forEach(function (r) {
      var hide = onlyWorse && onlyWorse.checked && r.getAttribute("data-flagged") !== "1";
      r.hidden = hide;
      if (!hide) n++;
    });
    if (shown) shown.textContent = n + " of " + rows.length + " slices";
  }
  heads.forEach(function (th, k) {
    var button = th.querySelector("button");
    if (!button) return;
    button.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      rows.sort(function (a, b) {
        var c = cmp(value(a, k), value(b, k));
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  if (onlyWorse) onlyWorse.addEventListener("change", filter);
  filter();
})();
