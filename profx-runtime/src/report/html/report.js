// profx HTML report: the waterfall picker swaps between pre-rendered SVGs.
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
  document.documentElement.setAttribute('data-profx-ready', '1');
})();
