/* fleet sweep page: every table sorts by any column (click a header; click it again to reverse).
   A cell's data-sort, when present, is its sort key (state rank, padded ONTAP version); a header with
   data-type="number" sorts its column as numbers. Ties keep their current order (stable).
   aria-sort on the header says which column orders the rows and which way. */
(function () {
  'use strict';

  function keyOf(cell, numeric) {
    var raw = cell.hasAttribute('data-sort') ? cell.getAttribute('data-sort') : cell.textContent.trim();
    if (!numeric) return raw;
    var number = parseFloat(raw);
    return isNaN(number) ? -Infinity : number;
  }

  function compare(x, y) {
    return x < y ? -1 : x > y ? 1 : 0;
  }

  function sortBy(table, column) {
    var heads = table.tHead.rows[0].cells;
    var th = heads[column];
    var ascending = th.getAttribute('aria-sort') !== 'ascending';
    var numeric = th.getAttribute('data-type') === 'number';
    Array.prototype.forEach.call(heads, function (other) { other.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var body = table.tBodies[0];
    var rows = Array.prototype.map.call(body.rows, function (row, index) {
      return {key: keyOf(row.cells[column], numeric), index: index, row: row};
    });
    rows.sort(function (a, b) {
      var order = ascending ? compare(a.key, b.key) : compare(b.key, a.key);
      return order || a.index - b.index;
    });
    var sorted = document.createDocumentFragment();
    rows.forEach(function (item) { sorted.appendChild(item.row); });
    body.appendChild(sorted);
  }

  document.querySelectorAll('table.sortable').forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      th.addEventListener('click', function () { sortBy(table, column); });
    });
  });
})();
