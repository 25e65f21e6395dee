// profx HTML report: the waterfall picker swaps between pre-rendered SVGs; table headers sort.
(function () {
  'use strict';
  function show(select) {
    var group = document.getElementById(select.getAttribute('data-group'));
    if (!group) { return; }
    var panes = group.querySelectorAll('.wf');
    for (var i = 0; i < panes.length; i++) {
      panes[i].hidden = String(i) !== select.value;
    }
  }
  var pickers = document.querySelectorAll('select.wf-pick');
  for (var i = 0; i < pickers.length; i++) {
    pickers[i].addEventListener('change', function (ev) { show(ev.target); });
    // A reload may restore an earlier choice: show the pane that matches it.
    show(pickers[i]);
  }
  // Tables of class "sortable": a click on a header sorts the rows by that column, on each
  // cell's data-v (a number) when it has one, else on its text; a second click reverses.
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var down = th.getAttribute('aria-sort') !== 'descending';
    function key(row) {
      var cell = row.cells[col];
      var v = cell.getAttribute('data-v');
      return v === null ? cell.textContent : parseFloat(v);
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
      return down ? -c : c;
    });
    for (var r = 0; r < rows.length; r++) { body.appendChild(rows[r]); }
    var heads = table.tHead.rows[0].cells;
    for (var h = 0; h < heads.length; h++) { heads[h].removeAttribute('aria-sort'); }
    th.setAttribute('aria-sort', down ? 'descending' : 'ascending');
  }
  var sortable = document.querySelectorAll('table.sortable');
  for (var t = 0; t < sortable.length; t++) {
    (function (table) {
      var heads = table.tHead.rows[0].cells;
      for (var c = 0; c < heads.length; c++) {
        (function (th, col) {
          th.style.cursor = 'pointer';
          th.addEventListener('click', function () { sortBy(table, col, th); });
        })(heads[c], c);
      }
    })(sortable[t]);
  }
  document.documentElement.setAttribute('data-profx-ready', '1');
})();
