/* psalm-bench leaderboard: sortable tables, no dependencies.
   A header with data-type="number" or "text" sorts its table on click;
   values come from each cell's data-value (full precision) or its text; a
   cell of class "na" (the missing mark) or with data-value="" is a missing
   value and always sorts last. The first click puts the best first (high to
   low for numbers, unless data-better="lower"; A to Z for text), the next
   click reverses. */
"use strict";
(function () {
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function cellValue(row, col, type) {
    var cell = row.cells[col];
    if (!cell) return null;
    if (cell.classList.contains("na")) return null;
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (raw === "") return null;
    if (type === "number") {
      var n = parseFloat(raw);
      return isNaN(n) ? null : n;
    }
    return raw;
  }

  function sortBy(table, th, col, direction) {
    var type = th.getAttribute("data-type");
    var body = table.tBodies[0];
    var rows = Array.prototype.map.call(body.rows, function (row, index) {
      return { row: row, index: index, value: cellValue(row, col, type) };
    });
    var sign = direction === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      if (a.value === null || b.value === null) {
        if (a.value === b.value) return a.index - b.index;
        return a.value === null ? 1 : -1; /* missing values last, either way */
      }
      var d = type === "number" ? a.value - b.value : collator.compare(a.value, b.value);
      return d !== 0 ? sign * d : a.index - b.index;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(th.parentNode.cells, function (other) {
      if (other !== th) other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", direction);
    var status = document.getElementById("sort-status");
    if (status) status.textContent = "Sorted by " + th.textContent.trim() + ", " + direction + ".";
  }

  function firstDirection(th) {
    if (th.getAttribute("data-type") !== "number") return "ascending";
    return th.getAttribute("data-better") === "lower" ? "ascending" : "descending";
  }

  function setUp(table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head || !table.tBodies.length) return;
    Array.prototype.forEach.call(head.cells, function (th, col) {
      if (!th.hasAttribute("data-type")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      var arrow = document.createElement("span");
      arrow.className = "arrow";
      arrow.setAttribute("aria-hidden", "true"); /* the state is in aria-sort, not in the button's name */
      button.appendChild(arrow);
      th.appendChild(button);
      button.addEventListener("click", function () {
        var now = th.getAttribute("aria-sort");
        var next = now === "ascending" ? "descending" : now === "descending" ? "ascending" : firstDirection(th);
        sortBy(table, th, col, next);
      });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), setUp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
