/* tickgate dashboard: candlestick chart on a canvas (SPEC §12 bars). No library.
 *
 * window.TGCandles(canvas) returns a chart object:
 *   reset(bars)  replace the candles (REST history, oldest first)
 *   upsert(bar)  a live `bar` message: replaces the candle with the same start, or appends
 *   draw()       paint (call from the page's animation frame when dirty)
 *   count()      candles held
 * Bars carry decimals as JSON numbers; prices are only drawn, never computed on.
 */
(function () {
  'use strict';
  var MAX_CANDLES = 240;

  function TGCandles(canvas) {
    var bars = [];          // oldest first, unique start
    var colors = null;

    function num(v) { return typeof v === 'number' ? v : Number(v); }
    function norm(b) {
      return { start: num(b.start), open: num(b.open), high: num(b.high), low: num(b.low),
        close: num(b.close), volume: num(b.volume), final: b.final !== false };
    }

    function reset(list) {
      bars = (list || []).map(norm).filter(function (b) { return isFinite(b.start) && isFinite(b.close); });
      bars.sort(function (a, b) { return a.start - b.start; });
      if (bars.length > MAX_CANDLES) bars = bars.slice(bars.length - MAX_CANDLES);
    }

    function upsert(b) {
      b = norm(b);
      if (!isFinite(b.start) || !isFinite(b.close)) return;
      var n = bars.length;
      if (!n || b.start > bars[n - 1].start) {
        bars.push(b);
        if (bars.length > MAX_CANDLES) bars.shift();
        return;
      }
      for (var i = n - 1; i >= 0; i--) {
        if (bars[i].start === b.start) {
          // a partial must not overwrite the final state of the same bar
          if (!(bars[i].final && !b.final)) bars[i] = b;
          return;
        }
        if (bars[i].start < b.start) { bars.splice(i + 1, 0, b); return; }
      }
      bars.unshift(b);
    }

    function fmt(p) {
      var a = Math.abs(p);
      return p.toFixed(a >= 1000 ? 1 : a >= 1 ? 2 : 5);
    }
    function clock(ns) {
      var d = new Date(ns / 1e6);
      function p(n) { return (n < 10 ? '0' : '') + n; }
      return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
    }

    function draw() {
      var dpr = window.devicePixelRatio || 1;
      var w = canvas.clientWidth || 600, h = canvas.clientHeight || 220;
      if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
        canvas.width = Math.round(w * dpr);
        canvas.height = Math.round(h * dpr);
      }
      var g = canvas.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, w, h);
      if (!colors) {
        var css = getComputedStyle(document.documentElement);
        colors = { up: css.getPropertyValue('--up').trim() || '#3fd68f',
          down: css.getPropertyValue('--down').trim() || '#ff7b7b',
          grid: 'rgba(140,150,170,0.18)', text: css.getPropertyValue('--muted').trim() || '#8a93a6' };
      }
      var n = bars.length;
      if (!n) return;
      var axis = 64, padT = 8, padB = 18, plotW = w - axis - 4, plotH = h - padT - padB;
      var slot = Math.max(3, Math.min(14, plotW / Math.max(n, 40)));
      var first = Math.max(0, n - Math.floor(plotW / slot));
      var lo = Infinity, hi = -Infinity, i, b;
      for (i = first; i < n; i++) { b = bars[i]; if (b.low < lo) lo = b.low; if (b.high > hi) hi = b.high; }
      if (!(hi > lo)) { hi = hi * 1.0005 + 1e-9; lo = lo * 0.9995 - 1e-9; }
      var pad = (hi - lo) * 0.06; hi += pad; lo -= pad;
      function y(p) { return padT + plotH * (1 - (p - lo) / (hi - lo)); }
      // grid and price axis
      g.font = '11px system-ui, sans-serif';
      g.fillStyle = colors.text;
      g.strokeStyle = colors.grid;
      g.lineWidth = 1;
      for (var k = 0; k <= 4; k++) {
        var p = lo + (hi - lo) * k / 4, yy = Math.round(y(p)) + 0.5;
        g.beginPath(); g.moveTo(0, yy); g.lineTo(plotW, yy); g.stroke();
        g.fillText(fmt(p), plotW + 6, yy + 4);
      }
      var bodyW = Math.max(1, Math.floor(slot * 0.7));
      for (i = first; i < n; i++) {
        b = bars[i];
        var x = Math.round(plotW - (n - i - 0.5) * slot);
        var up = b.close >= b.open;
        g.strokeStyle = g.fillStyle = up ? colors.up : colors.down;
        g.globalAlpha = b.final ? 1 : 0.7;   // the open bar is drawn lighter
        g.beginPath(); g.moveTo(x + 0.5, y(b.high)); g.lineTo(x + 0.5, y(b.low)); g.stroke();
        var y0 = y(Math.max(b.open, b.close)), y1 = y(Math.min(b.open, b.close));
        g.fillRect(x - Math.floor(bodyW / 2), y0, bodyW, Math.max(1, y1 - y0));
      }
      g.globalAlpha = 1;
      g.fillStyle = colors.text;
      g.fillText(clock(bars[first].start), 2, h - 4);
      var last = clock(bars[n - 1].start), lw = g.measureText(last).width;
      g.fillText(last, Math.max(2, plotW - lw), h - 4);
    }

    return { reset: reset, upsert: upsert, draw: draw, count: function () { return bars.length; },
      bars: function () { return bars.slice(); } };
  }

  window.TGCandles = TGCandles;
})();
