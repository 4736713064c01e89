/* Bot monitoring dashboard. Every value from the server is set with textContent, never as
 * HTML: guild, command and check names are chosen by strangers. No inline script or style
 * (the Content-Security-Policy forbids both). */
(function () {
  "use strict";

  var STATUS = { healthy: 1, degraded: 1, unhealthy: 1, unknown: 1 };
  var PRIORITY = { high: 1, medium: 1, low: 1 };
  var COLORS = { a: "#4299e1", b: "#f6ad55", c: "#fc8181", d: "#68d391", e: "#b794f4" };
  var state = {
    hours: 24,
    guild: "",
    scope: null,
    ws: null,
    retry: 0,
    retryTimer: null,
    charts: {},
    firstChart: false,
    timers: [],
    guildNames: {},
  };

  // -- tiny DOM helpers (text only) ------------------------------------------------------------
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function setText(id, text) { $(id).textContent = text; }
  function show(id, on) { $(id).hidden = !on; }

  var numFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  function num(v) { return v === null || v === undefined ? "-" : numFmt.format(v); }
  function ms(v) {
    if (v === null || v === undefined) return "-";
    return v >= 1000 ? (v / 1000).toFixed(2) + " s" : Math.round(v) + " ms";
  }
  function pct(v, digits) {
    return v === null || v === undefined ? "-" : (v * 100).toFixed(digits === undefined ? 1 : digits) + "%";
  }
  function when(iso) {
    if (!iso) return "-";
    var d = new Date(iso);
    return isNaN(d.getTime()) ? "-" : d.toLocaleString();
  }

  // -- API ---------------------------------------------------------------------------------------
  function ApiError(status, body) {
    this.status = status;
    this.body = body || {};
    this.message = (body && body.message) || "HTTP " + status;
  }

  function api(path) {
    return fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          if (!resp.ok) throw new ApiError(resp.status, body);
          return body;
        });
      });
  }

  function query(extra) {
    var params = new URLSearchParams(extra || {});
    if (state.guild) params.set("guild", state.guild);
    var text = params.toString();
    return text ? "?" + text : "";
  }

  function problem(err) {
    if (err && err.status === 401) { signedOut(); return; }
    var p = $("problem");
    p.textContent = err && err.message ? err.message : String(err);
    p.hidden = false;
    if (window.console) console.warn("dashboard:", err && err.message ? err.message : err);
  }
  function noProblem() { $("problem").hidden = true; }

  function signedOut() {
    show("signed-out", true);
    show("dashboard", false);
    show("controls", false);
    stopLive();
  }

  // -- live cards (WebSocket) ------------------------------------------------------------------
  function renderUpdate(u) {
    var m = u.metrics || {};
    setText("messages-processed", num(m.messages_processed));
    setText("response-time", ms(m.average_response_time));
    setText("response-sub", num(m.commands) + " commands, last hour");
    setText("p95-response-time", ms(m.p95_response_time));
    setText("p95-sub", "p50 " + ms(m.p50_response_time));
    setText("error-rate", pct(m.error_rate));
    setText("error-sub", num(m.errors) + " errors, last hour");
    var s = u.system;
    if (s && s.memory_usage !== null) {
      setText("memory-usage", s.memory_usage.toFixed(0) + " MB");
      setText("memory-sub", "bot process; host " + s.memory_percent.toFixed(0) + "%, lag " +
        (s.loop_lag_ms === null ? "-" : s.loop_lag_ms.toFixed(1) + " ms"));
    } else if (s) {
      setText("memory-usage", "-");
      setText("memory-sub", "no reading yet");
    } else if (u.mode === "live") {
      setText("memory-usage", "n/a");
      setText("memory-sub", "host readings: all-guilds view only");
    } else {
      setText("memory-usage", "n/a");
      setText("memory-sub", "read-only view of a database file");
    }
    if (u.health) renderHealth(u.health);
    setText("updated", "Updated " + when(u.timestamp));
  }

  function renderHealth(h) {
    var list = $("health-services");
    clear(list);
    var overall = STATUS[h.status] ? h.status : "unknown";
    var head = $("health-overall");
    head.textContent = overall;
    head.className = "status-text status-" + overall;
    var names = Object.keys(h.services || {});
    if (!names.length) list.appendChild(el("li", "muted", "No health checks yet."));
    names.forEach(function (name) {
      var svc = h.services[name];
      var status = STATUS[svc.status] ? svc.status : "unknown";
      var li = el("li", "service-status");
      var left = el("span", "service-name");
      left.appendChild(el("span", "status-indicator status-" + status));
      left.appendChild(el("span", null, name));
      li.appendChild(left);
      li.appendChild(el("span", "service-message", svc.message || status));
      list.appendChild(li);
    });
  }

  function setConn(text, cls) {
    var c = $("conn");
    c.textContent = text;
    c.className = "badge " + cls;
  }

  function connect() {
    stopSocket();
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/ws" + query());
    state.ws = ws;
    setConn("connecting", "conn-wait");
    ws.onopen = function () { state.retry = 0; setConn("live", "conn-on"); };
    ws.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (data && data.type === "update") renderUpdate(data);
    };
    ws.onclose = function (ev) {
      if (state.ws !== ws) return;
      state.ws = null;
      if (ev.code === 1008 || ev.code === 4401 || ev.code === 4403) { signedOut(); return; }
      // exponential backoff with jitter: 1 s, 2 s, 4 s ... 30 s
      var delay = Math.min(30000, 1000 * Math.pow(2, state.retry)) * (0.5 + Math.random() / 2);
      state.retry = Math.min(state.retry + 1, 5);
      var why = ev.code === 4429 ? "too many open dashboard tabs; " : "";
      setConn(why + "reconnecting in " + Math.round(delay / 1000) + " s", "conn-wait");
      state.retryTimer = setTimeout(function () {
        // a failed upgrade gives no status: ask the API whether we are still signed in
        api("/api/session").then(connect, function (err) {
          if (err.status === 401) signedOut(); else connect();
        });
      }, delay);
    };
  }

  function stopSocket() {
    if (state.retryTimer) { clearTimeout(state.retryTimer); state.retryTimer = null; }
    if (state.ws) { var ws = state.ws; state.ws = null; ws.close(); }
  }

  function stopLive() {
    stopSocket();
    state.timers.forEach(clearInterval);
    state.timers = [];
    setConn("offline", "conn-off");
  }

  // -- charts (uPlot) ----------------------------------------------------------------------------
  function chartWidth(node) { return Math.max(260, node.clientWidth - 4); }

  function drawChart(id, data, series) {
    var node = $(id);
    var old = state.charts[id];
    if (old) { old.destroy(); delete state.charts[id]; }
    clear(node);
    var empty = !data[0].length;
    node.classList.toggle("empty", empty);
    if (empty) {
      node.appendChild(el("p", "no-data", "No data in this range."));
      node.setAttribute("data-drawn", "empty");
      return;
    }
    var opts = {
      width: chartWidth(node),
      height: 200,
      cursor: { drag: { x: false, y: false } },
      legend: { show: series.length > 1, live: false },
      scales: {
        x: { time: true },
        y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } },
      },
      axes: [
        { stroke: "#a0aec0", grid: { stroke: "#2d3748" }, ticks: { stroke: "#4a5568" } },
        { stroke: "#a0aec0", grid: { stroke: "#2d3748" }, ticks: { stroke: "#4a5568" }, size: 56 },
      ],
      series: [{}].concat(series.map(function (s) {
        return { label: s.label, stroke: s.color, width: 2, fill: s.fill || undefined, spanGaps: false,
          points: { show: false } };
      })),
      hooks: {
        draw: [function (u) {
          u.root.parentNode.setAttribute("data-drawn", "true");
          if (!state.firstChart) {
            state.firstChart = true;
            if (window.performance && performance.mark) performance.mark("first-chart");
          }
        }],
      },
    };
    state.charts[id] = new uPlot(opts, data, node);
  }

  function renderHistorical(h) {
    var t = h.timeline;
    var m = t.messages_over_time.series;
    drawChart("chart-messages", [m.ts, m.count], [{ label: "messages", color: COLORS.a, fill: "rgba(66,153,225,0.15)" }]);
    var r = t.response_times.series;
    drawChart("chart-latency", [r.ts, r.p50, r.p95], [
      { label: "p50", color: COLORS.d }, { label: "p95", color: COLORS.b },
    ]);
    var e = t.error_rates.series;
    drawChart("chart-errors", [e.ts, e.errors], [{ label: "errors", color: COLORS.c, fill: "rgba(252,129,129,0.15)" }]);
    var us = t.active_users.series;
    drawChart("chart-users", [us.ts, us.users], [
      { label: "users per " + (t.active_users.per || "minute") + " (average)", color: COLORS.e },
    ]);
    var v = t.voice_usage.series;
    drawChart("chart-voice", [v.ts, v.minutes], [{ label: "minutes", color: COLORS.d, fill: "rgba(104,211,145,0.15)" }]);
    var a = h.aggregates;
    setText("range-summary", "Last " + h.period + ": " + num(a.total_messages) + " messages, " +
      num(a.commands) + " commands (avg " + ms(a.avg_response_time) + ", p95 " + ms(a.p95_response_time) +
      ", errors " + pct(a.error_rate) + "), " + num(a.distinct_users) + " users, " +
      num(a.total_voice_minutes) + " voice minutes");
  }

  function renderCommands(c) {
    var body = $("commands");
    clear(body);
    if (!c.commands.length) {
      var tr = el("tr");
      var td = el("td", "muted", "No commands in this range.");
      td.colSpan = 6;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    c.commands.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("td", "cmd", row.command));
      tr.appendChild(el("td", "num", num(row.count)));
      tr.appendChild(el("td", "num" + (row.error_rate > 0.05 ? " bad" : ""), num(row.errors) + " (" + pct(row.error_rate) + ")"));
      tr.appendChild(el("td", "num", ms(row.p50_ms)));
      tr.appendChild(el("td", "num", ms(row.p95_ms)));
      tr.appendChild(el("td", "num", ms(row.p99_ms)));
      body.appendChild(tr);
    });
  }

  function fact(parent, label, value) {
    var box = el("div", "fact");
    box.appendChild(el("div", "fact-label", label));
    box.appendChild(el("div", "fact-value", value));
    parent.appendChild(box);
  }

  function renderInsights(ins) {
    var facts = $("insight-facts");
    clear(facts);
    var p = ins.performance || {};
    var u = ins.user_behavior || {};
    var s = ins.system_health || {};
    setText("insights-period", ins.period ? "(last " + ins.period.days + " days)" : "");
    fact(facts, "Trend", p.trend || "-");
    fact(facts, "Response time", (p.response_time_status || "-") + " (p95 " + ms(p.p95_ms) + ")");
    fact(facts, "Error rate", (p.error_rate_status || "-") + " (" + pct(p.error_rate, 2) + ")");
    fact(facts, "Efficiency score", p.efficiency_score === null || p.efficiency_score === undefined ? "-" : p.efficiency_score.toFixed(0) + " / 100");
    fact(facts, "Active users", num(u.active_users));
    fact(facts, "Peak hours", (u.peak_hours || []).map(function (h) { return h + ":00"; }).join(", ") || "-");
    fact(facts, "Retention", (u.user_retention || "-") + (u.retention ? " (D1 " + pct(u.retention.d1, 0) + ", D7 " + pct(u.retention.d7, 0) + ")" : ""));
    fact(facts, "Engagement", u.engagement_score === null || u.engagement_score === undefined ? "-" : u.engagement_score.toFixed(0) + " / 100");
    var popular = Object.keys(u.popular_features || {}).slice(0, 5);
    fact(facts, "Popular commands", popular.join(", ") || "-");
    fact(facts, "Bottlenecks", (p.bottlenecks || []).join("; ") || "none");
    fact(facts, "System", (s.status || "-") + ((s.warnings || []).length ? ": " + s.warnings.join("; ") : ""));

    var recs = $("recommendations");
    clear(recs);
    var list = ins.recommendations || [];
    if (!list.length) recs.appendChild(el("p", "muted", "No recommendations: nothing needs attention."));
    list.forEach(function (rec) {
      var prio = PRIORITY[rec.priority] ? rec.priority : "low";
      var box = el("div", "recommendation " + prio + "-priority");
      box.appendChild(el("h4", null, rec.title || "Recommendation"));
      if (rec.description) box.appendChild(el("p", null, rec.description));
      if (rec.action) box.appendChild(el("p", "action", "Action: " + rec.action));
      box.appendChild(el("p", "small", "Priority: " + prio + (rec.type ? " | Type: " + rec.type : "")));
      recs.appendChild(box);
    });
  }

  function renderAlerts(a) {
    var list = $("alerts");
    clear(list);
    if (!a.alerts.length) { list.appendChild(el("li", "muted", "No alerts firing.")); return; }
    a.alerts.forEach(function (al) {
      var sev = String(al.severity || "warning").toLowerCase();
      var li = el("li", "alert " + (sev === "critical" ? "alert-critical" : "alert-warning"));
      li.appendChild(el("strong", null, al.title || al.rule || al.name || "alert"));
      li.appendChild(el("span", "alert-sev", sev));
      var text = al.message || al.description || al.summary;
      if (text) li.appendChild(el("div", "alert-msg", text));
      var since = al.since || al.started_at || al.fired_at;
      if (since) li.appendChild(el("div", "small", "since " + (typeof since === "number" ? new Date(since * 1000).toLocaleString() : when(since))));
      list.appendChild(li);
    });
  }

  function renderAlertsUnavailable(err) {
    if (err.status === 401) { signedOut(); return; }
    var list = $("alerts");
    clear(list);
    list.appendChild(el("li", "muted", err.status === 503 ? "Alerts are not enabled." : err.message));
  }

  // -- loading -----------------------------------------------------------------------------------
  function loadCharts() {
    return Promise.all([
      api("/api/metrics/historical" + query({ hours: state.hours })).then(renderHistorical),
      api("/api/commands" + query({ hours: state.hours, limit: 15 })).then(renderCommands),
    ]).then(noProblem, problem);
  }
  function loadInsights() {
    return api("/api/analytics/insights" + query()).then(renderInsights, function (err) {
      if (err.status === 401) { signedOut(); return; }
      clear($("insight-facts"));
      clear($("recommendations"));
      $("insight-facts").appendChild(el("p", "muted", "Insights unavailable: " + err.message));
    });
  }
  function loadAlerts() {
    return api("/api/alerts" + query()).then(renderAlerts, renderAlertsUnavailable);
  }
  function loadAll() {
    return Promise.all([loadCharts(), loadInsights(), loadAlerts()]);
  }

  function fillGuilds(g) {
    var select = $("guild");
    clear(select);
    if (state.scope === "all") {
      select.appendChild(el("option", null, "All guilds"));
      select.options[0].value = "";
    }
    g.guilds.forEach(function (guild) {
      var opt = el("option", null, guild.name ? guild.name : "Guild " + guild.id);
      opt.value = guild.id;
      opt.title = guild.id;
      state.guildNames[guild.id] = guild.name;
      select.appendChild(opt);
    });
    select.value = state.guild;
    select.disabled = state.scope !== "all";
  }

  function start() {
    api("/api/session").then(function (s) {
      state.scope = s.scope;
      state.guild = s.guild || "";
      show("signed-out", false);
      show("dashboard", true);
      show("controls", true);
      show("logout-form", s.method === "session");
      setText("who", s.scope === "all" ? "scope: every guild" : "scope: one guild");
      var mode = $("mode");
      mode.textContent = s.mode === "live" ? "source: bot" : "source: file, read-only";
      mode.hidden = false;
      return api("/api/guilds").then(fillGuilds).then(function () {
        connect();
        loadAll();
        state.timers.push(setInterval(loadCharts, 60000));
        state.timers.push(setInterval(loadAlerts, 30000));
        state.timers.push(setInterval(loadInsights, 300000));
      });
    }).catch(problem);
  }

  function bind() {
    Array.prototype.forEach.call(document.querySelectorAll(".range-btn"), function (btn) {
      btn.addEventListener("click", function () {
        state.hours = parseInt(btn.getAttribute("data-hours"), 10);
        Array.prototype.forEach.call(document.querySelectorAll(".range-btn"), function (b) {
          b.setAttribute("aria-pressed", b === btn ? "true" : "false");
        });
        loadCharts();
      });
    });
    $("guild").addEventListener("change", function (ev) {
      state.guild = ev.target.value;
      connect();
      loadAll();
    });
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        Object.keys(state.charts).forEach(function (id) {
          var c = state.charts[id];
          c.setSize({ width: chartWidth($(id)), height: 200 });
        });
      }, 150);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    bind();
    start();
  });
})();
