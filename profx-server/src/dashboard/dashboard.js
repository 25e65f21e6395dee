// profx live dashboard: polls api/dashboard and draws it with uPlot. Data only ever reaches the
// page through textContent, option text and canvas drawing, never as markup.
(function () {
  'use strict';
  var root = document.documentElement;
  var MAX_POINTS = 300;   // kept per chart
  var MAX_SERIES = 8;     // agents drawn in one chart
  var MAX_ROWS = 200;     // rows of a table
  var interval = Math.max(200, Math.min(60000, Number(root.getAttribute('data-interval')) || 1000));
  var token = new URLSearchParams(location.search).get('token');
  var FEED = 'api/dashboard';

  var hist = [];                                    // one entry per successful poll
  var mem = { t: [], res: [], heap: [], thr: [] };  // memory and threads over time
  var stats = { polls: 0, failures: 0, resets: 0, connected: false, lastError: null };
  var latest = null;   // the last feed
  var shown = [];      // agents drawn in the rate and success charts
  var charts = {};     // name -> { u: uPlot, key: string }
  var $ = function (id) { return document.getElementById(id); };

  function css(name, fallback) {
    var v = getComputedStyle(root).getPropertyValue(name).trim();
    return v || fallback;
  }
  var ink = css('--ink', '#1d232b'), muted = css('--muted', '#5f6b7a'), grid = css('--grid', '#eceff3');
  var palette = ['--d0', '--d1', '--d2', '--d3', '--d4', '--sev-low', '--p95', '--exec'].map(function (n, i) {
    return css(n, ['#2f6fde', '#14a38b', '#d9822b', '#8e5cd9', '#d6457a', '#3b82b6', '#dd6b20', '#9aa5b4'][i]);
  });

  // ---- formatting ----------------------------------------------------------------------------
  function sig(x) { return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2); }
  function fmtDur(s) {
    if (s == null || !isFinite(s)) return '–';
    if (s === 0) return '0';
    if (s < 1e-6) return sig(s * 1e9) + ' ns';
    if (s < 1e-3) return sig(s * 1e6) + ' µs';
    if (s < 1) return sig(s * 1e3) + ' ms';
    return sig(s) + ' s';
  }
  function fmtBytes(b) {
    if (b == null || !isFinite(b)) return '–';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (Math.abs(b) >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return (i === 0 ? b.toFixed(0) : sig(b)) + ' ' + units[i];
  }
  function fmtNum(n) { return n == null ? '–' : Math.round(n).toLocaleString('en-US'); }
  function fmtRate(r) { return r == null || !isFinite(r) ? '–' : r >= 100 ? r.toFixed(0) : r.toFixed(1); }
  function fmtPct(p) { return p == null ? '–' : (p >= 99.95 || p === 0 ? p.toFixed(0) : p.toFixed(1)) + '%'; }
  function fmtUptime(s) {
    s = Math.floor(s);
    var d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return d ? d + 'd ' + h + 'h' : h ? h + 'h ' + m + 'm' : m ? m + 'm ' + (s % 60) + 's' : s + 's';
  }
  // Axis ticks: no trailing zeros.
  function trim(x) { return String(parseFloat(sig(x))); }
  function tickNum(v) { return v === 0 ? '0' : trim(v); }
  function tickPct(v) { return tickNum(v) + '%'; }
  function trimUnit(text) { return text.replace(/^([0-9.]+)/, function (n) { return trim(Number(n)); }); }
  function tickBytes(v) { return v === 0 ? '0' : trimUnit(fmtBytes(v)); }
  function tickDur(v) { return v === 0 ? '0' : trimUnit(fmtDur(v)); }
  // Tick steps for bytes: 1, 2, 5 … times a power of 1024, so that ticks fall on 2 MiB, 4 MiB.
  var byteIncrs = [];
  [1, 1024, 1048576, 1073741824, 1099511627776].forEach(function (k) {
    [1, 2, 5, 10, 20, 50, 100, 200, 500].forEach(function (m) { byteIncrs.push(m * k); });
  });
  function setText(id, text) { $(id).textContent = text; }
  function subject(agent, phase) {
    var who = agent === '' ? '(outside agents)' : agent;
    return phase == null ? who : who + ' / ' + phase;
  }

  // ---- charts --------------------------------------------------------------------------------
  // Room for the longest tick label.
  function axisSize(u, values) {
    var m = 0;
    (values || []).forEach(function (v) { m = Math.max(m, String(v).length); });
    return Math.max(44, 26 + 7 * m);
  }
  function axes(yfmt, more, extra) {
    var y = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: axisSize,
      values: function (u, splits) { return splits.map(yfmt); } };
    for (var k in more) { if (Object.prototype.hasOwnProperty.call(more, k)) y[k] = more[k]; }
    var a = [{ stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } }, y];
    return extra ? a.concat(extra) : a;
  }
  function line(label, color, fmt, more) {
    var s = { label: label, stroke: color, width: 1.75, points: { show: false },
      value: function (u, v) { return v == null ? '–' : fmt(v); } };
    for (var k in more) { if (Object.prototype.hasOwnProperty.call(more, k)) s[k] = more[k]; }
    return s;
  }
  function width(el) { return Math.max(280, el.clientWidth || 520); }
  // Makes (or, when its series changed, remakes) chart `name` and gives it `data`.
  function draw(name, key, build, data) {
    var el = $('chart-' + name), c = charts[name];
    if (c && c.key !== key) { c.u.destroy(); c = null; }
    if (!c) {
      var o = build();
      o.width = width(el);
      o.height = 220;
      o.cursor = { drag: { x: false, y: false } };
      o.legend = { live: true };
      c = charts[name] = { u: new uPlot(o, data, el), key: key };
    } else {
      c.u.setData(data);
    }
    // The legend shows the latest values unless the pointer is on the chart.
    if (!(c.u.cursor.left >= 0) && data[0].length) c.u.setLegend({ idx: data[0].length - 1 });
  }
  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (n) {
      charts[n].u.setSize({ width: width($('chart-' + n)), height: 220 });
    });
  });

  function drawRate() {
    var x = hist.map(function (p) { return p.t; });
    var data = [x, hist.map(function (p) { return p.rate; })];
    var series = [line('all agents', ink, fmtRate, { width: 2.25 })];
    shown.forEach(function (name, i) {
      data.push(hist.map(function (p) { var a = p.agents.get(name); return a ? a.rate : null; }));
      series.push(line(name, palette[i % palette.length], fmtRate));
    });
    draw('rate', 'r\u0000' + shown.join('\u0000'), function () {
      return { series: [{}].concat(series), axes: axes(tickNum), scales: { x: { time: true }, y: { range: nonNegative } } };
    }, data);
  }
  function nonNegative(u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; }

  function drawLatency() {
    var pick = $('agent-pick'), name = pick.value;
    var get = function (k) {
      return hist.map(function (p) { var a = p.agents.get(name); return a ? a[k] : null; });
    };
    var data = [hist.map(function (p) { return p.t; }), get('p50'), get('p95'), get('p99')];
    draw('latency', 'l\u0000' + name, function () {
      return {
        series: [{}, line('p50', css('--p50', '#1f8a4c'), fmtDur), line('p95', css('--p95', '#dd6b20'), fmtDur),
          line('p99', css('--p99', '#c53030'), fmtDur)],
        axes: axes(tickDur), scales: { x: { time: true }, y: { range: nonNegative } }
      };
    }, data);
  }

  function drawSuccess() {
    var data = [hist.map(function (p) { return p.t; }), hist.map(function (p) { return p.success; })];
    var series = [line('all agents', ink, fmtPct, { width: 2.25 })];
    shown.forEach(function (name, i) {
      data.push(hist.map(function (p) { var a = p.agents.get(name); return a ? a.success : null; }));
      series.push(line(name, palette[i % palette.length], fmtPct));
    });
    draw('success', 's\u0000' + shown.join('\u0000'), function () {
      return { series: [{}].concat(series), axes: axes(tickPct), scales: { x: { time: true }, y: { range: [0, 100] } } };
    }, data);
  }

  function drawMemory() {
    var heap = mem.heap.some(function (v) { return v != null; });
    var data = [mem.t, mem.res], series = [line('resident', palette[0], fmtBytes)];
    if (heap) { data.push(mem.heap); series.push(line('live heap', palette[1], fmtBytes)); }
    data.push(mem.thr);
    series.push(line('threads', palette[2], fmtNum, { scale: 'thr', dash: [5, 3] }));
    draw('memory', heap ? 'm+heap' : 'm', function () {
      return {
        series: [{}].concat(series),
        axes: axes(tickBytes, { incrs: byteIncrs }, [{ scale: 'thr', side: 1, stroke: palette[2], grid: { show: false }, size: 44,
          values: function (u, splits) { return splits.map(function (v) { return v % 1 ? '' : String(v); }); } }]),
        scales: { x: { time: true }, y: { range: nonNegative }, thr: { range: nonNegative } }
      };
    }, data);
    setText('memory-note', heap ? '' : '(live heap: not counted — install profx::CountingAlloc)');
  }

  // ---- tables and cards ----------------------------------------------------------------------
  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  var SEVERITIES = ['critical', 'high', 'medium', 'low'];
  function drawBottlenecks(list) {
    var body = $('bn-body');
    body.textContent = '';
    list.slice(0, MAX_ROWS).forEach(function (b) {
      var tr = document.createElement('tr');
      var sev = SEVERITIES.indexOf(b.severity) >= 0 ? b.severity : 'low';
      var badge = document.createElement('span');
      badge.className = 'badge sev-' + sev;
      badge.textContent = String(b.severity);
      cell(tr, '').appendChild(badge);
      cell(tr, subject(b.agent, b.phase), 'name');
      cell(tr, String(b.kind).replace('_', ' '));
      cell(tr, fmtDur(b.avg_seconds), 'num');
      cell(tr, fmtDur(b.p99_seconds), 'num');
      cell(tr, b.message, 'msg');
      body.appendChild(tr);
    });
    $('bn-table').hidden = list.length === 0;
    $('bn-none').hidden = list.length > 0;
    setText('bn-more', list.length > MAX_ROWS ? (list.length - MAX_ROWS) + ' more not shown.' : '');
  }
  function drawAgents(d, point) {
    var body = $('agent-body');
    body.textContent = '';
    var rows = byExecutions(d.agents);
    rows.slice(0, MAX_ROWS).forEach(function (a) {
      var tr = document.createElement('tr');
      cell(tr, a.long_lived ? a.name + ' (long-lived)' : a.name, 'name');
      cell(tr, fmtNum(a.executions), 'num');
      cell(tr, fmtNum(a.failures), 'num' + (a.failures > 0 ? ' poor' : ''));
      cell(tr, fmtNum(a.cancelled || 0), 'num' + (a.cancelled > 0 ? ' fair' : ''));
      cell(tr, fmtPct(a.success_rate_percent), 'num');
      var p = point.agents.get(a.name);
      cell(tr, fmtRate(p ? p.rate : null), 'num');
      cell(tr, fmtDur(a.avg_seconds), 'num');
      cell(tr, fmtDur(a.p50_seconds), 'num');
      cell(tr, fmtDur(a.p95_seconds), 'num');
      cell(tr, fmtDur(a.p99_seconds), 'num');
      cell(tr, a.phases && a.phases.length && a.total_seconds > 0 ?
        fmtPct(100 * a.self_seconds / a.total_seconds) : '–', 'num');
      cell(tr, fmtPct(a.busy_percent), 'num');
      body.appendChild(tr);
    });
    setText('agent-more', rows.length > MAX_ROWS ? (rows.length - MAX_ROWS) + ' more agents not shown.' :
      rows.length === 0 ? 'No agent has completed an execution yet.' : '');
  }
  // The picked agent's phases, the most self time first (the feed's order).
  function drawPhases(d) {
    var name = $('agent-pick').value, body = $('phase-body');
    var a = d.agents.filter(function (x) { return x.name === name; })[0];
    var list = a && a.phases ? a.phases : [];
    setText('phase-agent', name || '–');
    body.textContent = '';
    list.slice(0, MAX_ROWS).forEach(function (p) {
      var tr = document.createElement('tr');
      cell(tr, p.name, 'name');
      cell(tr, fmtNum(p.calls), 'num');
      cell(tr, fmtNum(p.failures), 'num' + (p.failures > 0 ? ' poor' : ''));
      cell(tr, fmtNum(p.cancelled || 0), 'num' + (p.cancelled > 0 ? ' fair' : ''));
      cell(tr, fmtDur(p.avg_seconds), 'num');
      cell(tr, fmtDur(p.p95_seconds), 'num');
      cell(tr, fmtDur(p.p99_seconds), 'num');
      cell(tr, fmtDur(p.total_seconds), 'num');
      cell(tr, fmtDur(p.self_seconds), 'num');
      cell(tr, a.total_seconds > 0 ? fmtPct(100 * p.self_seconds / a.total_seconds) : '–', 'num');
      cell(tr, fmtPct(p.busy_percent), 'num');
      body.appendChild(tr);
    });
    $('phase-table').hidden = list.length === 0;
    $('phase-none').hidden = list.length > 0;
    setText('phase-more', list.length > MAX_ROWS ? (list.length - MAX_ROWS) + ' more phases not shown.' : '');
  }
  function byExecutions(agents) {
    return agents.slice().sort(function (a, b) {
      return b.executions - a.executions || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
  }
  function drawPicker(d) {
    var pick = $('agent-pick'), keep = pick.value, names = byExecutions(d.agents).map(function (a) { return a.name; });
    var same = pick.options.length === names.length &&
      names.every(function (n, i) { return pick.options[i].value === n; });
    if (!same) {
      pick.textContent = '';
      names.forEach(function (n) { pick.appendChild(new Option(n, n)); });
    }
    pick.value = names.indexOf(keep) >= 0 ? keep : (names[0] || '');
  }
  function drawCards(d, point) {
    setText('c-uptime', fmtUptime(d.uptime_seconds));
    setText('c-exec', fmtNum(d.totals.executions));
    setText('c-exec-sub', d.agents.length + (d.agents.length === 1 ? ' agent' : ' agents'));
    setText('c-rate', fmtRate(point.rate));
    var sr = d.totals.success_rate_percent, el = $('c-success');
    el.textContent = fmtPct(sr);
    el.className = 'value ' + (sr == null ? 'na' : sr >= 99 ? 'good' : sr >= 90 ? 'fair' : 'poor');
    setText('c-fail', fmtNum(d.totals.failures) + ' failed' +
      (d.totals.cancelled > 0 ? ' · ' + fmtNum(d.totals.cancelled) + ' cancelled (not counted)' : ''));
    setText('c-resident', fmtBytes(d.process.resident_bytes));
    setText('c-heap', 'live heap: ' + (d.process.heap_live_bytes == null ? 'not counted' : fmtBytes(d.process.heap_live_bytes)));
    setText('c-threads', fmtNum(d.process.threads));
    var bn = $('c-bottlenecks');
    bn.textContent = String(d.bottlenecks.length);
    bn.className = 'value ' + (d.bottlenecks.length ? 'poor' : 'good');
    setText('c-worst', d.bottlenecks.length ? 'worst: ' + d.bottlenecks[0].severity : 'none detected');
    setText('meta', 'Updated ' + new Date(d.time * 1000).toLocaleTimeString() + ' · every ' +
      fmtDur(interval / 1000) + ' · last ' + MAX_POINTS + ' polls kept');
  }

  // ---- the feed ------------------------------------------------------------------------------
  function push(arr, v) { arr.push(v); if (arr.length > MAX_POINTS) arr.shift(); }
  function pushMem(t, res, heap, thr) {
    push(mem.t, t); push(mem.res, res); push(mem.heap, heap); push(mem.thr, thr);
  }
  function check(d) {
    var ok = d && typeof d === 'object' && Array.isArray(d.agents) && Array.isArray(d.bottlenecks) &&
      d.totals && d.process && typeof d.uptime_seconds === 'number' && typeof d.time === 'number';
    if (!ok) throw new Error('unexpected answer from ' + FEED);
  }
  // Turns a feed into a point of history: rates from the counters' deltas since the previous
  // point. A counter that went down (Profiler::clear, a restarted server) starts a new baseline:
  // that point has no rate rather than a negative one.
  function point(d) {
    var prev = hist.length ? hist[hist.length - 1] : null;
    var dt = prev ? d.uptime_seconds - prev.up : 0;
    var comparable = prev !== null && dt > 0;
    var p = { t: d.time, up: d.uptime_seconds, exec: d.totals.executions, agents: new Map(),
      success: d.totals.success_rate_percent, rate: null };
    var backwards = prev !== null && dt <= 0, total = 0;
    d.agents.forEach(function (a) {
      var before = prev ? prev.agents.get(a.name) : undefined, rate = null;
      if (comparable) {
        var base = before ? before.exec : 0;
        if (a.executions >= base) { rate = (a.executions - base) / dt; total += rate; } else backwards = true;
      }
      p.agents.set(a.name, { exec: a.executions, rate: rate, success: a.success_rate_percent,
        p50: a.p50_seconds, p95: a.p95_seconds, p99: a.p99_seconds });
    });
    if (prev) prev.agents.forEach(function (v, name) { if (!p.agents.has(name)) backwards = true; });
    if (backwards) stats.resets++;
    p.rate = comparable && !backwards ? total : null;
    return p;
  }
  function accept(d) {
    check(d);
    if (stats.polls === 0 && d.history && Array.isArray(d.history.points)) {
      d.history.points.forEach(function (h) {
        if (h.time < d.time) pushMem(h.time, h.resident_bytes, h.heap_live_bytes, h.threads);
      });
    }
    var p = point(d);
    push(hist, p);
    pushMem(d.time, d.process.resident_bytes, d.process.heap_live_bytes, d.process.threads);
    latest = d;
    stats.polls++;
    connected(true, null);
    var ranked = byExecutions(d.agents);
    shown = ranked.slice(0, MAX_SERIES).map(function (a) { return a.name; });
    var capped = ranked.length > MAX_SERIES ?
      '(showing the ' + MAX_SERIES + ' of ' + ranked.length + ' agents with the most executions)' : '';
    setText('rate-note', capped);
    setText('success-note', capped);
    var empty = d.agents.length === 0;
    $('empty').hidden = !empty;
    Array.prototype.forEach.call(document.querySelectorAll('.agent-chart'), function (f) { f.hidden = empty; });
    drawCards(d, p);
    drawPicker(d);
    drawBottlenecks(d.bottlenecks);
    drawAgents(d, p);
    drawPhases(d);
    drawMemory();
    if (!empty) { drawRate(); drawLatency(); drawSuccess(); }
  }
  function connected(ok, message) {
    stats.connected = ok;
    stats.lastError = message;
    $('dot').className = 'dot ' + (ok ? 'live' : 'down');
    setText('status-text', ok ? 'live' : 'disconnected');
    $('banner').hidden = ok;
    if (!ok) {
      setText('banner', 'Disconnected: ' + message + ' — retrying every ' + fmtDur(interval / 1000) + '.');
    }
  }
  function failed(err) {
    stats.failures++;
    connected(false, err && err.message ? err.message : String(err));
  }
  function fetchFeed() {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, Math.max(5000, 3 * interval));
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    return fetch(FEED, { headers: headers, cache: 'no-store', signal: ctl.signal }).then(function (r) {
      if (r.status === 401) throw new Error('401 unauthorized (open the dashboard with ?token=…)');
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (d) { check(d); return d; }, function (e) {
      throw e && e.name === 'AbortError' ? new Error('no answer within ' + fmtDur(Math.max(5, 3 * interval / 1000))) : e;
    }).finally(function () { clearTimeout(timer); });
  }
  // A failed fetch shows the banner; an error while drawing is not caught here, so that it
  // surfaces (as an unhandled rejection). Either way the next poll is scheduled.
  function poll() {
    fetchFeed().then(accept, failed).finally(function () { setTimeout(poll, interval); });
  }

  window.__profxDashboard = {
    state: function () {
      var drawn = {};
      Object.keys(charts).forEach(function (n) {
        var u = charts[n].u, data = u.data;
        var values = [];
        for (var i = 1; i < data.length; i++) {
          data[i].forEach(function (v) { if (v != null) values.push(v); });
        }
        drawn[n] = { points: data[0].length, series: u.series.length - 1,
          canvas: !!$('chart-' + n).querySelector('canvas'),
          visible: !$('chart-' + n).closest('figure').hidden,
          min: values.length ? Math.min.apply(null, values) : null,
          max: values.length ? Math.max.apply(null, values) : null };
      });
      return {
        polls: stats.polls, failures: stats.failures, resets: stats.resets,
        connected: stats.connected, lastError: stats.lastError, interval: interval,
        points: hist.length, memoryPoints: mem.t.length,
        empty: latest ? latest.agents.length === 0 : null,
        executions: latest ? latest.totals.executions : null,
        failed: latest ? latest.totals.failures : null,
        agents: latest ? latest.agents.length : 0, shown: shown.length,
        selected: $('agent-pick').value, bottlenecks: $('bn-body').children.length,
        banner: !$('banner').hidden, charts: drawn
      };
    }
  };
  $('agent-pick').addEventListener('change', function () {
    if (hist.length) drawLatency();
    if (latest) drawPhases(latest);
  });
  root.setAttribute('data-profx-ready', '1');
  poll();
})();
