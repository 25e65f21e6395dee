// Records script errors on the root element (data-js-errors), so a headless check can read them.
(function () {
  'use strict';
  function note(text) {
    var root = document.documentElement;
    root.setAttribute('data-js-errors', (root.getAttribute('data-js-errors') || '') + text + '\n');
  }
  window.addEventListener('error', function (e) { note('error: ' + (e.message || e.type)); });
  window.addEventListener('unhandledrejection', function (e) { note('unhandled rejection: ' + e.reason); });
})();
