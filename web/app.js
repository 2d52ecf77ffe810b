/* tickgate dashboard (SPEC §5, §6). Plain JS, no build step, no external requests.
 *
 * Data flow: WebSocket frames (JSON Lines) -> handlers that only update plain
 * state and mark things dirty -> one render per animation frame. Nothing
 * touches the DOM per message, so hundreds of symbols at thousands of
 * messages per second stay smooth.
 */
(function () {
  'use strict';

  var TOKEN_KEY = 'tickgate.token';
  var TOKEN_SRC_KEY = 'tickgate.token_source';
  var SPARK_POINTS = 120;         // points kept per symbol (30 s)
  var SPARK_MIN_SPAN = 40;        // x scale: the line spans the width after 10 s
  var SPARK_STEP_MS = 250;        // one point per 250 ms (last price wins)
  var SPARK_REDRAW_MS = 250;      // sparklines redraw at most 4x/s
  var FLASH_MS = 600;
  var FLASH_EVERY_MS = 1200;      // a symbol flashes at most this often (vs the price at its last flash)
  var MAX_ALERTS = 300;
  var DEFAULT_DRIFT = 0.05;       // alerts.rebalance_drift default (SPEC §2)
  var FEEDS_POLL_MS = 5000;       // HTTP API is rate limited (60/min per user)
  var PING_MS = 15000;
  var MAX_SINCE_BYTES = 60000;    // client messages are limited to 64 KiB
  var CHART_BARS = 180;           // candles fetched from /api/v1/bars on select

  var $ = function (id) { return document.getElementById(id); };

  // ---------------------------------------------------------------- state
  var S = {
    token: null, tokenSource: null, claims: null, admin: false,
    ws: null, wsGen: 0, established: false, everEstablished: false,
    epoch: null, attempts: 0, reconnectTimer: null, reconnectAt: 0,
    lastSeq: {},                 // 'md:SYM' | 'pf:ID' | 'notifications' | 'system' -> seq
    quotes: new Map(),           // symbol -> quote state
    portfolios: new Map(),       // id -> last portfolio message
    pfIds: [],
    driftThr: {},                // portfolio id -> {abs, rel} learnt from alerts
    alerts: [],                  // newest first
    alertKeys: new Set(),        // alert_id + state
    firing: new Map(),           // alert_id -> alert (currently firing)
    feeds: new Map(),            // name -> {name,type,state,reason,ticks,lastTickAt}
    sourceSeen: {},              // quote source -> arrival time (ms)
    clockOffset: 0,              // server clock - local clock, ms
    lat: [],                     // [arrival ms, latency ms]
    latReady: new Set(), latWaitRecover: new Set(),
    msgTimes: [], msgCount: 0,
    stats: { frames: 0, messages: 0, established: 0, byType: {}, recovered: { complete: 0, reset: 0 } },
    chart: { sym: null, iv: '1s', subscribed: null, gen: 0 }   // candlestick chart (bars channel)
  };
  var dirty = { quotes: new Set(), pfs: new Set(), alerts: false, feeds: false, spark: new Set(), order: true, chart: true };
  var candles = window.TGCandles ? window.TGCandles(document.getElementById('chart')) : null;
  var rafPending = false;
  var feedsTimer = null, pingTimer = null, pingSent = 0;

  // ---------------------------------------------------------------- formatting
  var nf2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  var MINUS = '\u2212';

  function num(v) { return typeof v === 'number' ? v : (v == null || v === '' ? NaN : Number(v)); }
  function fmtPrice(v) {
    v = num(v);
    if (!isFinite(v)) return '–';
    var a = Math.abs(v);
    var d = a >= 1 ? 2 : a >= 0.01 ? 4 : 8;
    // keep extra exact digits the server sent (up to 4 for normal prices)
    var s = String(v), dot = s.indexOf('.');
    if (dot >= 0 && s.indexOf('e') < 0) d = Math.max(d, Math.min(a >= 1 ? 4 : 8, s.length - dot - 1));
    return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function fmtMoney(v) { v = num(v); return isFinite(v) ? (v < 0 ? MINUS : '') + nf2.format(Math.abs(v)) : '–'; }
  function fmtSignedMoney(v) { v = num(v); return isFinite(v) ? (v > 0 ? '+' : v < 0 ? MINUS : '') + nf2.format(Math.abs(v)) : '–'; }
  function fmtPct(r, digits) {
    r = num(r);
    if (!isFinite(r)) return '–';
    var p = r * 100, d = digits == null ? 2 : digits;
    var s = Math.abs(p).toFixed(d);
    if (Number(s) === 0) return s + '%';
    return (p > 0 ? '+' : MINUS) + s + '%';
  }
  function fmtPlainPct(r, d) { r = num(r); return isFinite(r) ? (r < 0 ? MINUS : '') + Math.abs(r * 100).toFixed(d == null ? 1 : d) + '%' : '–'; }
  function dirOf(v) { v = num(v); return !isFinite(v) || v === 0 ? 'flat' : v > 0 ? 'up' : 'down'; }
  function arrow(dir) { return dir === 'up' ? '▲' : dir === 'down' ? '▼' : '■'; }
  function fmtVol(v) {
    v = num(v);
    if (!isFinite(v)) return '–';
    if (v >= 1e9) return (v / 1e9).toFixed(2) + 'B';
    if (v >= 1e6) return (v / 1e6).toFixed(2) + 'M';
    if (v >= 1e4) return (v / 1e3).toFixed(1) + 'K';
    return nf0.format(v);
  }
  function fmtAge(ms) {
    if (ms == null || !isFinite(ms) || ms < 0) return '–';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return Math.floor(ms / 60000) + ' min';
    return Math.floor(ms / 3600000) + ' h';
  }
  function fmtTime(tsNs) {
    var d = new Date(tsNs ? num(tsNs) / 1e6 : Date.now());
    function p(n) { return (n < 10 ? '0' : '') + n; }
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
  function setClass(node, cls) { if (node.className !== cls) node.className = cls; }

  // ---------------------------------------------------------------- token
  function decodeClaims(tok) {
    try {
      var part = tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      while (part.length % 4) part += '=';
      return JSON.parse(decodeURIComponent(escape(atob(part))));
    } catch (e) { return null; }
  }
  function setToken(tok, source) {
    S.token = tok;
    S.tokenSource = source;
    S.claims = decodeClaims(tok) || {};
    S.admin = Array.isArray(S.claims.roles) && S.claims.roles.indexOf('admin') >= 0;
    try {
      sessionStorage.setItem(TOKEN_KEY, tok);
      sessionStorage.setItem(TOKEN_SRC_KEY, source);
    } catch (e) { /* storage disabled: keep it in memory */ }
    var u = $('user');
    u.textContent = (S.claims.sub || '?') + (S.admin ? ' · admin' : '');
    u.hidden = false;
    $('signout').hidden = false;
  }
  function clearToken() {
    S.token = null; S.claims = null; S.admin = false;
    try { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(TOKEN_SRC_KEY); } catch (e) { /* */ }
    $('user').hidden = true;
    $('signout').hidden = true;
  }
  function fetchDemoToken() {
    return fetch('/api/v1/demo-token', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) return null;
      return r.json().then(function (j) { return j && j.success && j.data && j.data.token || null; });
    }).catch(function () { return null; });
  }
  function showSignIn(msg) {
    stopSocket();
    setConn('down', 'Signed out');
    $('signin').hidden = false;
    var e = $('signin-error');
    e.textContent = msg || '';
    e.hidden = !msg;
    $('token-input').focus();
  }
  function hideSignIn() { $('signin').hidden = true; }

  function api(path, method) {
    return fetch(path, { method: method || 'GET', headers: { Authorization: 'Bearer ' + S.token },
                         cache: 'no-store' })
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (j) {
          if (!r.ok || !j || !j.success) {
            var err = new Error((j && j.error && j.error.code) || ('http_' + r.status));
            err.status = r.status;
            throw err;
          }
          return j.data;
        });
      });
  }

  // ---------------------------------------------------------------- connection
  function setConn(cls, text) {
    setClass($('conn'), 'conn ' + cls);
    setText($('conn-text'), text);
  }

  function stopSocket() {
    S.wsGen++;
    if (S.reconnectTimer) { clearTimeout(S.reconnectTimer); S.reconnectTimer = null; }
    if (pingTimer) { clearInterval(pingTimer); pingTimer = null; }
    if (feedsTimer) { clearInterval(feedsTimer); feedsTimer = null; }
    if (S.ws) { try { S.ws.close(1000); } catch (e) { /* */ } S.ws = null; }
    S.established = false;
  }

  function connect() {
    if (!S.token) return;
    stopSocket();
    var gen = S.wsGen;
    setConn('connecting', S.everEstablished ? 'Reconnecting…' : 'Connecting…');
    var ws;
    try {
      ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    } catch (e) { scheduleReconnect(gen, 'cannot open'); return; }
    S.ws = ws;
    ws.onopen = function () {
      if (gen !== S.wsGen) return;
      // token as the first message keeps it out of URLs and access logs
      ws.send(JSON.stringify({ type: 'auth', token: S.token }));
    };
    ws.onmessage = function (ev) {
      if (gen !== S.wsGen) return;
      if (typeof ev.data !== 'string') return;
      onFrame(ev.data);
    };
    ws.onclose = function (ev) {
      if (gen !== S.wsGen) return;
      S.ws = null;
      var was = S.established;
      S.established = false;
      if (pingTimer) { clearInterval(pingTimer); pingTimer = null; }
      onClose(gen, ev.code, ev.reason, was);
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function onClose(gen, code, reason, wasEstablished) {
    if (code === 1008 || code === 4001) {
      // refused token (bad, expired, revoked, or the embedded server restarted
      // with a new secret): a demo token is simply fetched again; a pasted
      // one goes back to the sign-in form with the reason
      var why = code === 4001 ? 'token expired or revoked' : 'token refused';
      var wasDemo = S.tokenSource === 'demo';
      clearToken();
      if (!wasDemo) { showSignIn('The server refused the token (' + why + '). Paste a valid token.'); return; }
      fetchDemoToken().then(function (tok) {
        if (gen !== S.wsGen) return;
        if (tok && (wasEstablished || S.attempts < 2)) {
          setToken(tok, 'demo');
          scheduleReconnect(gen, why);
        } else {
          showSignIn('The server refused the token (' + why + '). Paste a valid token.');
        }
      });
      return;
    }
    var label = code === 4008 ? 'too slow, resuming' : code === 1001 ? 'server restarting' : 'connection lost';
    scheduleReconnect(gen, label);
  }

  function scheduleReconnect(gen, why) {
    if (gen !== S.wsGen) return;
    var base = Math.min(30000, 500 * Math.pow(2, S.attempts));
    var delay = Math.round(base * (0.6 + Math.random() * 0.4));  // jitter
    S.attempts++;
    S.reconnectAt = Date.now() + delay;
    var tick = function () {
      if (gen !== S.wsGen) return;
      var left = S.reconnectAt - Date.now();
      if (left <= 0) { S.reconnectTimer = null; connect(); return; }
      setConn('down', (why ? why[0].toUpperCase() + why.slice(1) + ' — ' : '') + 'retrying in ' + Math.ceil(left / 1000) + ' s');
      S.reconnectTimer = setTimeout(tick, Math.min(left, 1000));
    };
    tick();
  }

  function send(obj) {
    if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify(obj));
  }

  var nextId = 1;
  function subscribe(channel, extra, sinceKeys, prefix) {
    var msg = { type: 'subscribe', channel: channel, id: nextId++ };
    for (var k in extra) msg[k] = extra[k];
    if (S.epoch) {
      var since = {}, any = false;
      sinceKeys.forEach(function (key) {
        var v = S.lastSeq[prefix + key];
        if (v != null) { since[key] = v; any = true; }
      });
      if (any) {
        msg.epoch = S.epoch;
        msg.since = since;
        if (JSON.stringify(msg).length > MAX_SINCE_BYTES) { delete msg.epoch; delete msg.since; }
        else Object.keys(since).forEach(function (key) { S.latWaitRecover.add(prefix + key); });
      }
    }
    send(msg);
  }

  function onEstablished(m) {
    var prevEpoch = S.epoch;
    S.established = true;
    S.everEstablished = true;
    S.attempts = 0;
    S.stats.established++;
    hideSignIn();
    setConn('live', 'Live');
    // same clock unless clearly skewed; pings refine it (NTP-style, half the round trip)
    S.latReady = new Set();
    S.latWaitRecover = new Set();
    if (m.server_time) {
      var off = num(m.server_time) / 1e6 - nowMs();
      S.clockOffset = Math.abs(off) > 1000 ? off : 0;
    }
    // resubscribe with the epoch we had and the last seq per key
    S.epoch = prevEpoch;
    var syms = [];
    S.quotes.forEach(function (q, s) { syms.push(s); });
    subscribe('market_data', { symbols: ['*'] }, syms, 'md:');
    subscribe('notifications', {}, ['notifications'], '');
    if (S.admin) subscribe('system', {}, ['system'], '');
    S.chart.subscribed = null;   // a new connection has no bars subscription yet
    if (S.chart.sym) chartLoad();
    S.epoch = m.epoch || null;
    setText($('epoch'), 'epoch ' + (S.epoch || '?') + ' · client ' + (m.client_id || '?'));
    var gen = S.wsGen;
    if (prevEpoch && prevEpoch !== S.epoch) {
      // another server process: its seq numbering starts afresh and firing
      // alerts get new ids, so forget both and reload the alert history
      S.lastSeq = {};
      S.firing.clear();
      dirty.alerts = true;
    }
    loadPortfolios(gen);
    if (prevEpoch !== S.epoch) loadAlerts();
    if (S.admin) {
      loadFeeds();
      feedsTimer = setInterval(loadFeeds, FEEDS_POLL_MS);
    }
    pingTimer = setInterval(function () { pingSent = nowMs(); send({ type: 'ping', id: 'clk' }); }, PING_MS);
  }

  function loadPortfolios(gen) {
    api('/api/v1/portfolios').then(function (list) {
      if (gen !== S.wsGen) return;
      var ids = [];
      (list || []).forEach(function (p) {
        if (!p || !p.portfolio_id) return;
        ids.push(p.portfolio_id);
        if (!S.portfolios.has(p.portfolio_id)) onPortfolio(p, true);
      });
      S.portfolios.forEach(function (p, id) { if (ids.indexOf(id) < 0) { S.portfolios.delete(id); dirty.pfs.add(id); } });
      S.pfIds = ids;
      if (ids.length) subscribe('portfolio_updates', { portfolio_ids: ids }, ids, 'pf:');
      schedule();
    }).catch(function (e) {
      if (e.status === 401) return;   // the socket close will handle the token
      // keep going without portfolios; try again on the next connection
    });
  }

  function loadAlerts() {
    api('/api/v1/alerts').then(function (list) {
      (list || []).slice().reverse().forEach(function (a) { onAlert(a, true); });
      schedule();
    }).catch(function () { /* panel stays as is */ });
  }

  function loadFeeds() {
    if (!S.token || !S.admin) return;
    var t = Date.now();
    api('/api/v1/feeds').then(function (list) {
      (list || []).forEach(function (f) {
        var cur = S.feeds.get(f.name) || { name: f.name };
        cur.type = f.type;
        cur.priority = f.priority;
        if (f.state && !cur.liveState) cur.state = f.state;
        if (f.state) cur.httpState = f.state;
        if (f.reason) cur.reason = f.reason;
        cur.ticks = f.ticks_received;
        if (typeof f.last_tick_age_ms === 'number' && f.last_tick_age_ms >= 0) {
          var at = t - f.last_tick_age_ms;
          if (!cur.lastTickAt || at > cur.lastTickAt) cur.lastTickAt = at;
        }
        S.feeds.set(f.name, cur);
      });
      dirty.feeds = true;
      schedule();
    }).catch(function (e) { if (e.status === 403) { clearInterval(feedsTimer); feedsTimer = null; } });
  }

  // ---------------------------------------------------------------- messages
  function onFrame(data) {
    S.stats.frames++;
    var lines = data.split('\n');
    for (var i = 0; i < lines.length; i++) {
      if (!lines[i]) continue;
      var m;
      try { m = JSON.parse(lines[i]); } catch (e) { continue; }
      onMessage(m);
    }
    schedule();
  }

  function noteSeq(key, m) { if (typeof m.seq === 'number') S.lastSeq[key] = m.seq; }

  // Latency = now − ts of live messages only: the first message per key on a
  // connection is the current state (its ts can be old), and replayed
  // messages before `recovered` are old by design.
  function noteLatency(key, m) {
    if (!m.ts) return;
    if (!S.latReady.has(key)) {
      if (!S.latWaitRecover.has(key)) S.latReady.add(key);
      return;
    }
    var now = nowMs();
    S.lat.push(now, now + S.clockOffset - num(m.ts) / 1e6);
  }
  function nowMs() { return performance.timeOrigin + performance.now(); }

  function onMessage(m) {
    var now = Date.now();
    S.stats.messages++;
    S.stats.byType[m.type] = (S.stats.byType[m.type] || 0) + 1;
    S.msgCount++;
    switch (m.type) {
      case 'quote': onQuote(m, now); break;
      case 'portfolio': onPortfolio(m, false); noteLatency('pf:' + m.portfolio_id, m); break;
      case 'alert': onAlert(m, false); break;
      case 'alert_ack': onAck(m); break;
      case 'feed_status': onFeedStatus(m); break;
      case 'bar': onBar(m); break;
      case 'snapshot':
        (m.quotes || []).forEach(function (q) { onQuote(q, now); });
        (m.portfolios || []).forEach(function (p) { onPortfolio(p, true); });
        break;
      case 'recovered': onRecovered(m); break;
      case 'connection_established': onEstablished(m); break;
      case 'pong':
        if (m.server_time && pingSent) {
          var t1 = nowMs(), rtt = t1 - pingSent;
          // only trust a quick round trip, and ignore sub-rtt noise
          if (rtt < 200) {
            var est = num(m.server_time) / 1e6 - (pingSent + rtt / 2);
            S.clockOffset = Math.abs(est) > rtt ? est : 0;
          }
        }
        break;
      case 'error':
        if (m.code === 'token_expired' || m.code === 'token_revoked' || m.code === 'unauthorized') break; // close follows
        if (window.console) console.warn('tickgate:', m.code, m.message || '');
        break;
      default: break;  // subscription_confirmed, unsubscription_confirmed, future types
    }
  }

  function onQuote(m, now) {
    var sym = m.symbol;
    if (!sym) return;
    var q = S.quotes.get(sym);
    if (!q) {
      q = { sym: sym, price: NaN, prevPrice: NaN, spark: [], sparkAt: 0, flash: '', flashUntil: 0, flashAt: 0, flashRef: NaN, n: 0,
        flashEvery: FLASH_EVERY_MS * (0.75 + Math.random() * 0.5) };  // desynchronised rows
      S.quotes.set(sym, q);
      dirty.order = true;
      if (!S.chart.sym && S.established) selectSymbol(sym);
    }
    var p = num(m.price);
    if (isFinite(p)) {
      // at 20+ ticks/s per symbol a flash per tick would be a solid blur:
      // flash the move since the last flash, at most every FLASH_EVERY_MS
      if (!isFinite(q.flashRef)) q.flashRef = p;
      else if (now - q.flashAt >= q.flashEvery && p !== q.flashRef) {
        q.flash = p > q.flashRef ? 'up' : 'down';
        q.flashUntil = now + FLASH_MS;
        q.flashAt = now;
        q.flashRef = p;
      }
      q.prevPrice = q.price;
      q.price = p;
      if (now - q.sparkAt >= SPARK_STEP_MS || !q.spark.length) {
        q.spark.push(p);
        if (q.spark.length > SPARK_POINTS) q.spark.shift();
        q.sparkAt = now;
      } else {
        q.spark[q.spark.length - 1] = p;
      }
      dirty.spark.add(sym);
    }
    if (m.bid != null) q.bid = num(m.bid);
    if (m.ask != null) q.ask = num(m.ask);
    if (m.volume != null) q.volume = num(m.volume);
    if (m.day_open != null) q.dayOpen = num(m.day_open);
    if (m.day_change_pct != null) q.pct = num(m.day_change_pct);
    else if (isFinite(q.dayOpen) && q.dayOpen) q.pct = (q.price - q.dayOpen) / q.dayOpen;
    if (m.source) { q.source = m.source; S.sourceSeen[m.source] = now; }
    q.n++;
    q.lastAt = now;
    noteSeq('md:' + sym, m);
    noteLatency('md:' + sym, m);
    dirty.quotes.add(sym);
  }

  // ---------------------------------------------------------------- chart (bars)
  // Candles: the REST history first (final bars), then the live `bars`
  // subscription (partial and final bars of the selected symbol/interval).
  function chartKey() { return S.chart.sym + '@' + S.chart.iv; }
  function selectSymbol(sym) {
    if (!sym || (sym === S.chart.sym && S.chart.subscribed)) return;
    S.chart.sym = sym;
    chartLoad();
  }
  function chartLoad() {
    var c = S.chart, gen = ++c.gen, sym = c.sym, iv = c.iv;
    if (c.subscribed && S.established)
      send({ type: 'unsubscribe', channel: 'bars', symbols: [c.subscribed.sym], interval: c.subscribed.iv });
    c.subscribed = null;
    if (candles) candles.reset([]);
    dirty.chart = true;
    schedule();
    api('/api/v1/bars/' + encodeURIComponent(sym) + '?interval=' + iv + '&limit=' + CHART_BARS)
      .catch(function () { return []; })
      .then(function (list) {
        if (gen !== c.gen || !S.established) return;
        if (candles) candles.reset(list || []);
        // a few final bars again: one that became final between the two requests
        send({ type: 'subscribe', channel: 'bars', symbols: [sym], interval: iv, history: 5 });
        c.subscribed = { sym: sym, iv: iv };
        dirty.chart = true;
        schedule();
      });
  }
  function onBar(m) {
    var c = S.chart;
    noteSeq('bar:' + m.symbol + '@' + m.interval, m);
    if (!candles || m.symbol !== c.sym || m.interval !== c.iv) return;
    candles.upsert(m);
    dirty.chart = true;
  }
  function renderChart() {
    setText($('chart-sym'), S.chart.sym ? S.chart.sym + ' · ' + S.chart.iv : '–');
    $('chart-empty').hidden = !!(candles && candles.count());
    if (candles) candles.draw();
    rows.forEach(function (r, sym) {
      var want = sym === S.chart.sym;
      if (r.tr.classList.contains('selected') !== want) r.tr.classList.toggle('selected', want);
    });
  }

  function onPortfolio(m, fromHttp) {
    var id = m.portfolio_id;
    if (!id) return;
    var cur = S.portfolios.get(id);
    // an HTTP answer must not overwrite a newer streamed state
    if (fromHttp && cur && cur.seq != null && m.seq != null && m.seq < cur.seq) return;
    S.portfolios.set(id, m);
    if (!fromHttp) noteSeq('pf:' + id, m);
    dirty.pfs.add(id);
  }

  function onAlert(a, fromHttp) {
    if (!a || !a.alert_id) return;
    if (!fromHttp) noteSeq(a.portfolio_id ? 'notifications' : 'system', a);
    var key = a.alert_id + '|' + a.state;
    if (S.alertKeys.has(key)) return;
    S.alertKeys.add(key);
    if (a.rule === 'rebalance_drift' && a.portfolio_id && a.threshold != null) {
      var t = S.driftThr[a.portfolio_id] || {};
      t.abs = num(a.threshold);
      S.driftThr[a.portfolio_id] = t;
      dirty.pfs.add(a.portfolio_id);
    }
    if (a.state === 'firing' && !S.alertKeys.has(a.alert_id + '|resolved')) S.firing.set(a.alert_id, a);
    else if (a.state === 'resolved') S.firing.delete(a.alert_id);
    a._new = !fromHttp;
    // keep newest first by ts (HTTP history and live messages interleave)
    var i = 0, ts = num(a.ts) || 0;
    while (i < S.alerts.length && (num(S.alerts[i].ts) || 0) > ts) i++;
    S.alerts.splice(i, 0, a);
    while (S.alerts.length > MAX_ALERTS) {
      var gone = S.alerts.pop();
      S.alertKeys.delete(gone.alert_id + '|' + gone.state);
    }
    if (a.feed) markFeedFromAlert(a);
    dirty.alerts = true;
    if (a.portfolio_id) dirty.pfs.add(a.portfolio_id);
  }

  function markFeedFromAlert(a) {
    var f = S.feeds.get(a.feed) || { name: a.feed };
    S.feeds.set(a.feed, f);
    dirty.feeds = true;
  }

  function onFeedStatus(m) {
    if (!m.feed) return;
    noteSeq('system', m);
    var f = S.feeds.get(m.feed) || { name: m.feed };
    f.state = m.state;
    f.liveState = true;
    f.reason = m.reason || '';
    f.changedAt = m.ts;
    S.feeds.set(m.feed, f);
    dirty.feeds = true;
  }

  function onRecovered(m) {
    var pre = m.channel === 'market_data' ? 'md:' : m.channel === 'portfolio_updates' ? 'pf:' : '';
    if (pre && m.key != null) S.latWaitRecover.delete(pre + m.key);
    if (m.complete) { S.stats.recovered.complete++; }
    else {
      S.stats.recovered.reset++;
      // history is gone: what follows is the current state. For alerts, the
      // HTTP list fills in what was missed (deduplicated by id and state).
      if (m.channel === 'notifications' || m.channel === 'system') loadAlerts();
    }
    var r = S.stats.recovered;
    setText($('recovery'), '· resumed ' + r.complete + ' key(s) exactly, ' + r.reset + ' from current state');
  }

  // ---------------------------------------------------------------- rendering
  function schedule() {
    if (rafPending) return;
    rafPending = true;
    requestAnimationFrame(render);
  }

  var rows = new Map();          // symbol -> row refs
  var lastSparkDraw = 0, lastOrderAt = 0;
  var filterText = '', sortMode = 'symbol';

  // Only rows on screen (or near it) are written to: with hundreds of symbols
  // the off-screen ones just remember that they are stale.
  var stale = new Set();
  var rowObserver = new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      var sym = e.target.dataset.symbol, r = rows.get(sym);
      if (!r) return;
      r.visible = e.isIntersecting;
      if (r.visible && stale.has(sym)) { stale.delete(sym); dirty.quotes.add(sym); dirty.spark.add(sym); }
    });
    schedule();
  }, { root: $('quotes').parentNode, rootMargin: '240px 0px' });

  function makeRow(sym) {
    var tr = el('tr');
    tr.dataset.symbol = sym;
    var r = { tr: tr };
    r.sym = el('td', 'sym', sym);
    r.px = el('td', 'num px');
    r.chg = el('td', 'num chg');
    r.bid = el('td', 'num bidask');
    r.ask = el('td', 'num bidask');
    r.vol = el('td', 'num vol');
    var sp = el('td', 'spark');
    r.canvas = el('canvas');
    r.canvas.setAttribute('role', 'img');
    r.canvas.setAttribute('aria-label', sym + ' price trend');
    sp.appendChild(r.canvas);
    tr.append(r.sym, r.px, r.chg, r.bid, r.ask, r.vol, sp);
    r.flashCls = '';
    r.visible = false;
    rows.set(sym, r);
    rowObserver.observe(tr);
    tr.hidden = !!filterText && sym.toUpperCase().indexOf(filterText) < 0;
    return r;
  }

  function sortKey(q) {
    if (sortMode === 'chg-desc') return -(isFinite(q.pct) ? q.pct : -Infinity);
    if (sortMode === 'chg-asc') return isFinite(q.pct) ? q.pct : Infinity;
    if (sortMode === 'active') return -q.n;
    return 0;
  }

  function reorder() {
    var list = Array.from(S.quotes.values());
    list.sort(function (a, b) {
      var d = sortKey(a) - sortKey(b);
      return d || (a.sym < b.sym ? -1 : a.sym > b.sym ? 1 : 0);
    });
    var body = $('quote-rows');
    var cur = body.firstChild;
    for (var i = 0; i < list.length; i++) {
      var r = rows.get(list[i].sym) || makeRow(list[i].sym);
      if (r.tr !== cur) body.insertBefore(r.tr, cur);
      else cur = cur.nextSibling;
    }
    setText($('quote-count'), String(list.length));
    $('quotes-empty').hidden = list.length > 0;
  }

  function renderQuote(sym, now) {
    var q = S.quotes.get(sym), r = rows.get(sym);
    if (!q || !r) return;
    setText(r.px, fmtPrice(q.price));
    var d = isFinite(q.pct) && Math.abs(q.pct) < 0.00005 ? 'flat' : dirOf(q.pct);  // matches the 2 shown decimals
    setText(r.chg, arrow(d) + ' ' + fmtPct(q.pct));
    setClass(r.chg, 'num chg ' + d);
    setText(r.bid, fmtPrice(q.bid));
    setText(r.ask, fmtPrice(q.ask));
    setText(r.vol, fmtVol(q.volume));
    var want = q.flashUntil > now ? 'num px flash-' + q.flash : 'num px';
    setClass(r.px, want);
    if (q.flashUntil > now) flashing.add(sym);
  }
  var flashing = new Set();

  var sparkColors = null, sparkSizeGen = 1;
  window.addEventListener('resize', function () { sparkSizeGen++; S.quotes.forEach(function (q, sym) { dirty.spark.add(sym); }); schedule(); });
  function drawSpark(sym) {
    var q = S.quotes.get(sym), r = rows.get(sym);
    if (!q || !r || r.tr.hidden) return;
    if (!r.visible) { stale.add(sym); return; }
    var c = r.canvas, dpr = window.devicePixelRatio || 1;
    if (r.sizeGen !== sparkSizeGen) { r.cw = c.clientWidth || 104; r.ch = c.clientHeight || 24; r.sizeGen = sparkSizeGen; }
    var w = r.cw, h = r.ch;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    }
    var g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var pts = q.spark, n = pts.length;
    if (n < 2) return;
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < n; i++) { if (pts[i] < lo) lo = pts[i]; if (pts[i] > hi) hi = pts[i]; }
    if (hi - lo < hi * 1e-6) { hi += hi * 5e-4; lo -= lo * 5e-4; }
    var pad = 2, step = (w - 2 * pad) / (Math.max(n, SPARK_MIN_SPAN) - 1);
    var x0 = w - pad - (n - 1) * step;
    var up = pts[n - 1] >= pts[0];
    if (!sparkColors) {
      var css = getComputedStyle(document.documentElement);
      sparkColors = { up: css.getPropertyValue('--up').trim() || '#3fd68f', down: css.getPropertyValue('--down').trim() || '#ff7b7b' };
    }
    var color = up ? sparkColors.up : sparkColors.down;
    g.beginPath();
    for (i = 0; i < n; i++) {
      var x = x0 + i * step, y = pad + (h - 2 * pad) * (1 - (pts[i] - lo) / (hi - lo));
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    }
    g.lineWidth = 1.4;
    g.strokeStyle = color;
    g.lineJoin = 'round';
    g.stroke();
    // last point marker
    g.fillStyle = g.strokeStyle;
    g.beginPath();
    g.arc(x0 + (n - 1) * step, pad + (h - 2 * pad) * (1 - (pts[n - 1] - lo) / (hi - lo)), 1.8, 0, 6.283);
    g.fill();
  }

  function driftRule(id) {
    var p = S.portfolios.get(id) || {};
    var t = S.driftThr[id] || {};
    var conf = p.alerts || {};
    var abs = num(p.rebalance_drift != null ? p.rebalance_drift : conf.rebalance_drift != null ? conf.rebalance_drift : t.abs);
    var rel = num(p.drift_relative != null ? p.drift_relative : conf.drift_relative);
    return { abs: isFinite(abs) ? abs : DEFAULT_DRIFT, known: isFinite(abs), rel: isFinite(rel) ? rel : 0 };
  }

  function renderPortfolio(id) {
    var box = $('portfolios');
    var card = box.querySelector('[data-id="' + CSS.escape(id) + '"]');
    var p = S.portfolios.get(id);
    if (!p) { if (card) card.remove(); return; }
    if (!card) {
      card = el('article', 'pf');
      card.dataset.id = id;
      card.innerHTML =
        '<header><h3></h3><span class="value"></span></header>' +
        '<div class="figs">' +
        '<div><span>P&amp;L</span><b class="pnl"></b></div>' +
        '<div><span>Day</span><b class="day"></b></div>' +
        '<div><span>Cash</span><b class="cash"></b></div>' +
        '<div><span>Max drift</span><b class="mdrift"></b></div>' +
        '</div><ul class="holdings"></ul><div class="legend"></div>';
      card.querySelector('h3').textContent = id;
      // keep cards in id order
      var after = null;
      Array.prototype.forEach.call(box.children, function (c) { if (!after && c.dataset.id > id) after = c; });
      box.insertBefore(card, after);
    }
    var rule = driftRule(id);
    setText(card.querySelector('.value'), fmtMoney(p.value));
    var pnl = card.querySelector('.pnl'), dpn = dirOf(p.pnl);
    setText(pnl, arrow(dpn) + ' ' + fmtSignedMoney(p.pnl) + ' (' + fmtPct(p.pnl_pct) + ')');
    setClass(pnl, 'pnl ' + dpn);
    var day = card.querySelector('.day'), dd = dirOf(p.day_change);
    setText(day, arrow(dd) + ' ' + fmtSignedMoney(p.day_change) + ' (' + fmtPct(p.day_change_pct) + ')');
    setClass(day, 'day ' + dd);
    setText(card.querySelector('.cash'), fmtMoney(p.cash));
    setText(card.querySelector('.mdrift'), fmtPlainPct(p.max_drift, 2));

    var hs = p.holdings || [];
    var scale = 0;
    hs.forEach(function (h) { scale = Math.max(scale, Math.abs(num(h.weight)) || 0, num(h.target_weight) || 0); });
    scale = scale > 0 ? scale * 1.08 : 1;
    var ul = card.querySelector('.holdings');
    var anyOver = false;
    hs.forEach(function (h, i) {
      var li = ul.children[i];
      if (!li) {
        li = el('li', 'holding');
        li.innerHTML = '<span class="hs"></span><span class="bar" aria-hidden="true"><span class="fill"></span><span class="target"></span></span><span class="hw"><span></span><small></small></span><span class="hd"></span>';
        ul.appendChild(li);
      }
      var w = num(h.weight), tw = num(h.target_weight), dr = num(h.drift);
      if (!isFinite(dr) && isFinite(w) && isFinite(tw)) dr = w - tw;
      var over = isFinite(dr) && (Math.abs(dr) >= rule.abs - 1e-12 ||
                 (rule.rel > 0 && tw > 0 && Math.abs(dr) / tw >= rule.rel - 1e-12));
      anyOver = anyOver || over;
      setClass(li, over ? 'holding over' : 'holding');
      li.dataset.symbol = h.symbol;
      setText(li.children[0], h.symbol);
      li.children[1].children[0].style.width = (Math.max(0, Math.min(1, Math.abs(w) / scale)) * 100).toFixed(2) + '%';
      li.children[1].children[1].style.left = (Math.max(0, Math.min(1, tw / scale)) * 100).toFixed(2) + '%';
      setText(li.children[2].children[0], fmtPlainPct(w, 1));
      setText(li.children[2].children[1], ' / ' + fmtPlainPct(tw, 0));
      var ddr = dirOf(dr);
      setText(li.children[3], arrow(ddr) + ' ' + (isFinite(dr) ? (dr > 0 ? '+' : dr < 0 ? MINUS : '') + Math.abs(dr * 100).toFixed(1) + ' pp' : '–'));
      li.title = h.symbol + ': ' + fmtPlainPct(w, 2) + ' of value, target ' + fmtPlainPct(tw, 2) +
        ', drift ' + (isFinite(dr) ? (dr * 100).toFixed(2) : '?') + ' percentage points' +
        (over ? ' — past the drift threshold' : '') +
        ' · qty ' + h.quantity + ' @ ' + fmtPrice(h.price) + ' = ' + fmtMoney(h.value);
    });
    while (ul.children.length > hs.length) ul.lastChild.remove();
    var firingDrift = false;
    S.firing.forEach(function (a) { if (a.portfolio_id === id && a.rule === 'rebalance_drift') firingDrift = true; });
    setClass(card, anyOver || firingDrift ? 'pf drifting' : 'pf');
    var lg = card.querySelector('.legend');
    var legend = 'bar = weight, │ = target · highlighted past ±' + (rule.abs * 100).toFixed(1) + ' pp' +
      (rule.known ? '' : ' (default)') + (rule.rel > 0 ? ' or ' + (rule.rel * 100).toFixed(0) + '% of target' : '') +
      ' · ' + hs.length + ' holdings';
    if (lg.dataset.t !== legend) { lg.dataset.t = legend; lg.textContent = legend; }
  }

  var RULES = {
    rebalance_drift: 'Rebalance drift', loss_limit: 'Loss limit', gain_target: 'Gain target',
    price_above: 'Price above', price_below: 'Price below', feed_stale: 'Feed stale', breaker_open: 'Breaker open',
    concentration: 'Concentration', volatility: 'Volatility', move: 'Move'
  };
  // alert_id -> who acknowledged it (POST /api/v1/alerts/{id}/ack, alert_ack messages)
  var acked = new Map();
  function onAck(m) {
    if (!m || !m.alert_id) return;
    acked.set(m.alert_id, m.by || '');
    alertNodes.forEach(function (li) {
      if (li.dataset.alertId === m.alert_id) markAcked(li, m.by);
    });
  }
  function markAcked(li, by) {
    li.classList.add('acked');
    var b = li.querySelector('button.ack');
    if (b) { b.disabled = true; b.textContent = 'Acked' + (by ? ' by ' + by : ''); }
  }
  function ackButton(a) {
    var b = el('button', 'ack', 'Ack');
    b.type = 'button';
    b.title = 'Mark this alert as read for everyone watching it';
    b.addEventListener('click', function () {
      b.disabled = true;
      api('/api/v1/alerts/' + encodeURIComponent(a.alert_id) + '/ack', 'POST')
        .then(function (d) { onAck({ alert_id: a.alert_id, by: d && d.by }); })
        .catch(function () { b.disabled = false; b.textContent = 'Ack failed, retry'; });
    });
    return b;
  }
  var alertNodes = new Map();   // key -> li
  function renderAlerts() {
    var ol = $('alerts');
    var cur = ol.firstChild;
    var keep = new Set();
    var shown = S.alerts.slice(0, 100);
    shown.forEach(function (a) {
      var key = a.alert_id + '|' + a.state;
      keep.add(key);
      var li = alertNodes.get(key);
      if (!li) {
        li = el('li');
        var sev = a.severity || 'medium';
        li.className = 'alert sev-' + sev + ' ' + (a.state === 'resolved' ? 'resolved' : 'firing') + (a._new ? ' new' : '');
        li.dataset.alertId = a.alert_id;
        li.dataset.state = a.state;
        li.dataset.rule = a.rule || '';
        var sevText = sev === 'high' ? 'HIGH' : sev === 'low' ? 'LOW' : 'MED';
        li.append(el('span', 'sev', sevText));
        li.append(el('span', 'st', a.state === 'resolved' ? '✓ RESOLVED' : '● FIRING'));
        li.append(el('span', 'rule', RULES[a.rule] || a.rule || 'alert'));
        var t = el('time', null, fmtTime(a.ts));
        if (a.ts) t.dateTime = new Date(num(a.ts) / 1e6).toISOString();
        li.append(t);
        var msg = el('span', 'msg');
        msg.append(el('span', 'text', a.message || ((a.symbol ? a.symbol + ' ' : '') + (a.value != null ? a.value : ''))));
        var subj = a.portfolio_id || (a.feed ? 'feed ' + a.feed : '');
        if (subj) msg.append(el('span', 'subj', subj));
        li.append(msg);
        if (a.state !== 'resolved') li.append(ackButton(a));
        if (acked.has(a.alert_id)) markAcked(li, acked.get(a.alert_id));
        alertNodes.set(key, li);
      }
      if (li !== cur) ol.insertBefore(li, cur);
      else cur = cur.nextSibling;
    });
    alertNodes.forEach(function (li, key) { if (!keep.has(key)) { li.remove(); alertNodes.delete(key); } });
    setText($('alert-firing'), S.firing.size + ' firing');
    $('alerts-empty').hidden = shown.length > 0;
  }

  var feedNodes = new Map();
  function renderFeeds(now) {
    var body = $('feed-rows');
    S.feeds.forEach(function (f, name) {
      var r = feedNodes.get(name);
      if (!r) {
        var tr = el('tr');
        tr.dataset.feed = name;
        r = { tr: tr, name: el('td'), state: el('td'), age: el('td', 'num'), ticks: el('td', 'num') };
        tr.append(r.name, r.state, r.age, r.ticks);
        body.appendChild(tr);
        feedNodes.set(name, r);
        r.name.append(document.createTextNode(name), el('small'));
        r.badge = el('span', 'state');
        r.reason = el('small');
        r.state.append(r.badge, r.reason);
      }
      setText(r.name.lastChild, (f.type || '') + (f.priority != null ? ' · prio ' + f.priority : ''));
      var st = f.state || 'unknown';
      setText(r.badge, st === 'closed' ? '● CLOSED' : st === 'open' ? '✕ OPEN' : st === 'half_open' ? '◐ HALF-OPEN' : st.toUpperCase());
      setClass(r.badge, 'state ' + st);
      setText(r.reason, f.reason && st !== 'closed' ? f.reason : st === 'closed' ? 'healthy' : '');
      var last = Math.max(f.lastTickAt || 0, S.sourceSeen[name] || 0);
      var age = last ? now - last : null;
      setText(r.age, fmtAge(age));
      setClass(r.age, 'num' + (age != null && age > 5000 ? ' age-stale' : ''));
      setText(r.ticks, f.ticks != null ? nf0.format(f.ticks) : '–');
    });
    $('feeds-empty').hidden = S.feeds.size > 0;
  }

  function renderReadouts(now) {
    // latency over the last 3 s, message rate over the last second
    var lat = S.lat, cut = now - 3000, i = 0;
    while (i < lat.length && lat[i] < cut) i += 2;
    if (i) lat.splice(0, i);
    var vals = [];
    for (i = 1; i < lat.length; i += 2) vals.push(lat[i]);
    if (vals.length) {
      vals.sort(function (a, b) { return a - b; });
      var p50 = vals[Math.floor(vals.length * 0.5)], p95 = vals[Math.min(vals.length - 1, Math.floor(vals.length * 0.95))];
      setText($('lat-p50'), fmtLat(p50));
      setText($('lat-p95'), fmtLat(p95));
    } else {
      setText($('lat-p50'), '–');
      setText($('lat-p95'), '–');
    }
    S.msgTimes.push([now, S.msgCount]);
    while (S.msgTimes.length > 2 && S.msgTimes[0][0] < now - 2000) S.msgTimes.shift();
    var a = S.msgTimes[0], b = S.msgTimes[S.msgTimes.length - 1];
    setText($('rate'), b[0] - a[0] > 300 ? nf0.format((b[1] - a[1]) * 1000 / (b[0] - a[0])) : '–');
  }
  function fmtLat(ms) { return ms < 10 ? Math.max(0, ms).toFixed(1) + ' ms' : Math.round(ms) + ' ms'; }

  var lastSlow = 0;
  function render() {
    rafPending = false;
    var now = Date.now();
    if (dirty.order || (sortMode !== 'symbol' && now - lastOrderAt > 1000)) {
      reorder();
      dirty.order = false;
      lastOrderAt = now;
    }
    // sparklines first: their size reads must not follow this frame's writes
    if (now - lastSparkDraw >= SPARK_REDRAW_MS && dirty.spark.size) {
      dirty.spark.forEach(drawSpark);
      dirty.spark.clear();
      lastSparkDraw = now;
    }
    dirty.quotes.forEach(function (sym) {
      var r = rows.get(sym);
      if (r && r.visible) renderQuote(sym, now); else stale.add(sym);
    });
    dirty.quotes.clear();
    flashing.forEach(function (sym) {
      var q = S.quotes.get(sym), r = rows.get(sym);
      if (!q || !r) { flashing.delete(sym); return; }
      if (q.flashUntil <= now) { setClass(r.px, 'num px'); flashing.delete(sym); }
    });
    if (dirty.pfs.size) {
      dirty.pfs.forEach(renderPortfolio);
      dirty.pfs.clear();
      setText($('pf-count'), String(S.portfolios.size));
      $('pf-empty').hidden = S.portfolios.size > 0;
    }
    if (dirty.alerts) {
      renderAlerts();
      dirty.alerts = false;
    }
    if (dirty.feeds || now - lastSlow >= 250) {
      renderFeeds(now);
      dirty.feeds = false;
    }
    if (dirty.chart) {
      renderChart();
      dirty.chart = false;
    }
    if (now - lastSlow >= 250) {
      renderReadouts(now);
      lastSlow = now;
    }
    if (flashing.size || dirty.spark.size) schedule();
  }
  // slow readouts (ages, latency, rate) tick even when no message arrives
  setInterval(schedule, 250);

  // ---------------------------------------------------------------- UI wiring
  $('filter').addEventListener('input', function (e) {
    filterText = e.target.value.trim().toUpperCase();
    rows.forEach(function (r, sym) {
      var hide = !!filterText && sym.toUpperCase().indexOf(filterText) < 0;
      if (r.tr.hidden !== hide) { r.tr.hidden = hide; if (!hide) dirty.spark.add(sym); }
    });
    schedule();
  });
  $('sort').addEventListener('change', function (e) { sortMode = e.target.value; dirty.order = true; schedule(); });
  $('quote-rows').addEventListener('click', function (e) {
    var tr = e.target.closest && e.target.closest('tr');
    if (tr && tr.dataset.symbol) selectSymbol(tr.dataset.symbol);
  });
  document.querySelectorAll('.chart .iv button').forEach(function (b) {
    b.addEventListener('click', function () {
      document.querySelectorAll('.chart .iv button').forEach(function (o) { o.setAttribute('aria-pressed', String(o === b)); });
      if (S.chart.iv === b.dataset.iv) return;
      S.chart.iv = b.dataset.iv;
      if (S.chart.sym) chartLoad();
    });
  });
  window.addEventListener('resize', function () { dirty.chart = true; schedule(); });
  $('signin-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var tok = $('token-input').value.trim().replace(/^Bearer\s+/i, '');
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(tok)) {
      var er = $('signin-error');
      er.textContent = 'That does not look like a JWT (three base64url parts separated by dots).';
      er.hidden = false;
      return;
    }
    $('token-input').value = '';
    setToken(tok, 'pasted');
    S.attempts = 0;
    hideSignIn();
    connect();
  });
  $('signout').addEventListener('click', function () {
    clearToken();
    S.epoch = null;
    S.lastSeq = {};
    showSignIn('');
  });
  window.addEventListener('online', function () {
    if (S.token && !S.ws) { S.attempts = 0; connect(); }
  });

  // test and debugging hook (read-only view of counters)
  window.__tickgate = { stats: S.stats, state: S, candles: candles, chartKey: chartKey };

  // ---------------------------------------------------------------- start
  function start() {
    var tok = null, src = null;
    try { tok = sessionStorage.getItem(TOKEN_KEY); src = sessionStorage.getItem(TOKEN_SRC_KEY); } catch (e) { /* */ }
    if (tok) { setToken(tok, src || 'pasted'); connect(); return; }
    setConn('connecting', 'Signing in…');
    fetchDemoToken().then(function (t) {
      if (t) { setToken(t, 'demo'); connect(); }
      else showSignIn('');
    });
  }
  start();
})();
