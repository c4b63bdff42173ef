// alpaca-fleece dashboard: polls the JSON API and redraws in place (no reload).
// Every value goes into the page with textContent, never as HTML. When the bot has a
// DASHBOARD_TOKEN, every API answer needs it: the page asks once, keeps it in sessionStorage
// (this tab only: gone when the tab closes, never in a cookie or the URL) and sends it in the
// Authorization header. The server never sends it.
"use strict";

const REFRESH_MS = 2000;
const CHART_REFRESH_MS = 5000;
const TZ = "America/New_York";

const state = { range: "today", symbol: null, status: null, chartsAt: 0, busy: false, locked: false };
const TOKEN_KEY = "fleece-dashboard-token";

class Unauthorized extends Error {}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function authHeaders() {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  return headers;
}

function askForToken(message) {
  state.locked = true;
  $("login").hidden = false;
  $("login-message").textContent = message;
  $("login-token").focus();
}

const $ = (id) => document.getElementById(id);
const etParts = new Intl.DateTimeFormat("en-CA", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

// Every figure and time the page shows comes worded by the API (its `text` fields, worded by
// fleece.notify.messages as fleece status and Telegram word them): the page words nothing.

// Plotly reads "YYYY-MM-DD HH:MM:SS" as wall time: give it New York's.
function toET(iso) {
  const p = {};
  for (const part of etParts.formatToParts(new Date(iso))) p[part.type] = part.value;
  const hour = p.hour === "24" ? "00" : p.hour;
  return `${p.year}-${p.month}-${p.day} ${hour}:${p.minute}:${p.second}`;
}

function signClass(el, v) {
  el.classList.toggle("up", v !== null && v > 0);
  el.classList.toggle("down", v !== null && v < 0);
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store", headers: authHeaders() });
  if (response.status === 401) throw new Unauthorized(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function setText(id, text) { const el = $(id); if (el.textContent !== text) el.textContent = text; }

function cell(text, cls, value) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (value !== undefined && value !== null) td.dataset.value = String(value);
  return td;
}

function fillRows(tbodyId, rows, empty, key) {
  const tbody = $(tbodyId);
  const fresh = document.createDocumentFragment();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(empty, "empty");
    td.colSpan = tbody.parentElement.tHead.rows[0].cells.length;
    tr.appendChild(td);
    fresh.appendChild(tr);
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    if (key) tr.dataset.key = key(row);
    for (const c of row.cells) tr.appendChild(c);
    fresh.appendChild(tr);
  }
  tbody.replaceChildren(fresh);
}

// ---- status bar ---------------------------------------------------------------------------
function renderStatus(s) {
  state.status = s;
  setText("mode", s.mode.toUpperCase() + (s.running ? "" : " · stopped"));
  // Every text here is worded by the API (fleece.notify.messages, as fleece status says it).
  $("state").className = `chip state ${s.state}`;
  setText("state", s.state_text + (s.kill_switch ? ` · kill switch ${s.kill_switch_text}` : ""));
  $("dry-run").hidden = !s.dry_run;
  $("market").className = "chip " + (s.market_open ? "good" : "");
  setText("market", s.market_text);
  setText("bar-age", s.last_bar_text);
  $("bar-age").className = "chip" + (s.last_bar_stale ? " warn" : "");
  setText("heartbeat", s.heartbeat_text);
  setText("clock", s.now_text);
  $("dropped").hidden = s.dropped_text === "";
  setText("dropped", `dropped: ${s.dropped_text}`);
  $("read-only").hidden = s.controls_enabled;
  $("control-form").hidden = !s.controls_enabled;
  $("halt").disabled = s.kill_switch;
  $("resume").disabled = !s.kill_switch;
  const select = $("symbol");
  if (select.options.length !== s.symbols.length) {
    select.replaceChildren(...s.symbols.map((sym) => new Option(sym, sym)));
    state.symbol = state.symbol && s.symbols.includes(state.symbol) ? state.symbol : s.symbols[0];
    select.value = state.symbol;
  }
  const banner = $("banner");
  if (!s.running) {
    banner.textContent = `Reading a stopped bot's store: ${s.run_text}.`;
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

// ---- account cards ------------------------------------------------------------------------
function renderAccount(a) {
  const t = a.text;
  setText("equity", t.equity);
  $("equity").dataset.value = a.equity ?? "";
  setText("cash", `cash ${t.cash}` + (a.buying_power !== null ? ` · buying power ${t.buying_power}` : ""));
  setText("pnl", t.pnl_today);
  $("pnl").dataset.value = a.pnl_today ?? "";
  signClass($("pnl"), a.pnl_today);
  setText("pnl-pct", `${t.pnl_today_pct} · realised all time ${t.realised_pnl}`);
  setText("trades", `${a.trades_today} / ${a.max_trades_per_day}`);
  const used = a.max_trades_per_day ? a.trades_today / a.max_trades_per_day : 0;
  $("trades-meter").style.width = `${Math.min(used, 1) * 100}%`;
  $("trades-meter").classList.toggle("full", used >= 1);
  setText("exits", `stop-outs ${a.stop_outs} · take-profits ${a.take_profits}`);
  setText("loss", `${t.daily_loss_pct} / ${t.max_daily_loss_pct}`);
  const lossUsed = a.max_daily_loss_pct ? a.daily_loss_pct / a.max_daily_loss_pct : 0;
  $("loss-meter").style.width = `${Math.min(lossUsed, 1) * 100}%`;
  $("loss-meter").classList.toggle("full", lossUsed >= 1);
}

// ---- tables -------------------------------------------------------------------------------
// Each table once: its tbody's id (also its data-testid), its title and its columns. The panels
// are built from index.html's template; a row's cells follow the columns' order.
const TABLES = [
  { id: "positions", title: "Positions", columns: ["Symbol", "Qty", "Avg cost", "Last", "Value", "Unrealised P&L"] },
  { id: "orders", title: "Open orders", columns: ["Created", "Symbol", "Side", "Qty", "Filled", "Status"] },
  { id: "fills", title: "Recent fills", columns: ["Time", "Symbol", "Side", "Qty", "Price", "Value"] },
  { id: "refusals", title: "Risk refusals", columns: ["Reason", "Today", "Total"] },
];

function buildTables() {
  const template = $("table-panel");
  for (const table of TABLES) {
    const panel = template.content.cloneNode(true);
    panel.querySelector("h2").textContent = table.title;
    const head = panel.querySelector("thead tr");
    for (const name of table.columns) {
      const th = document.createElement("th");
      th.textContent = name;
      head.appendChild(th);
    }
    const body = panel.querySelector("tbody");
    body.id = table.id;
    body.dataset.testid = table.id;
    template.parentElement.appendChild(panel);
  }
}

function renderPositions(rows) {
  fillRows("positions", rows.map((p) => {
    const t = p.text;
    const pl = cell(p.unrealized_pl === null ? t.unrealized_pl : `${t.unrealized_pl} (${t.unrealized_pl_pct})`, "", p.unrealized_pl);
    signClass(pl, p.unrealized_pl);
    return { symbol: p.symbol, cells: [
      cell(p.symbol, "", p.symbol), cell(String(p.qty), "", p.qty), cell(t.avg_cost, "", p.avg_cost),
      cell(t.last_price, "", p.last_price), cell(t.market_value, "", p.market_value), pl,
    ] };
  }), "no open positions", (r) => r.symbol);
}

function renderOrders(rows) {
  fillRows("orders", rows.map((o) => ({ cid: o.client_order_id, cells: [
    cell(o.text.created_at), cell(o.symbol, "", o.symbol), cell(o.side, o.side, o.side),
    cell(String(o.qty), "", o.qty), cell(String(o.filled_qty), "", o.filled_qty),
    cell(o.status + (o.dry_run ? " (dry run)" : ""), "", o.status),
  ] })), "no open orders", (r) => r.cid);
}

function renderFills(rows) {
  fillRows("fills", rows.map((f) => ({ cid: f.client_order_id, cells: [
    cell(f.text.timestamp, "", f.timestamp), cell(f.symbol, "", f.symbol), cell(f.side, f.side, f.side),
    cell(String(f.qty), "", f.qty), cell(f.text.price, "", f.price), cell(f.text.value, "", f.value),
  ] })), "no fills yet", (r) => r.cid);
}

// A reason reads as its code, as fleece status, Telegram and the risk log name it (kill_switch).
function renderRefusals(r) {
  const reasons = Object.keys(r.total).sort((a, b) => (r.total[b] - r.total[a]) || a.localeCompare(b));
  fillRows("refusals", reasons.map((reason) => ({ cells: [
    cell(reason, "", reason), cell(String(r.today[reason] || 0), "", r.today[reason] || 0),
    cell(String(r.total[reason]), "", r.total[reason]),
  ] })), "no refusals");
}

// ---- charts -------------------------------------------------------------------------------
function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

function chartLayout(extra) {
  return Object.assign({
    margin: { l: 56, r: 12, t: 8, b: 36 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: css("--text"), size: 11 },
    xaxis: { gridcolor: css("--line"), type: "date" },
    yaxis: { gridcolor: css("--line"), tickprefix: "$", tickformat: ",.2f", automargin: true },
    showlegend: true,
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 },
    hovermode: "x unified",
  }, extra || {});
}

const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

function drawEquity(series) {
  if (!window.Plotly) return;
  const x = series.t.map(toET);
  const traces = [{ x, y: series.equity, name: "equity", type: "scatter", mode: "lines", line: { color: css("--accent"), width: 2 } }];
  const layout = chartLayout({ showlegend: false });
  if (series.t.length === 0) {
    layout.annotations = [{ text: "no equity snapshots yet", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }];
    layout.xaxis = { visible: false };
    layout.yaxis = { visible: false };
  }
  Plotly.react("equity-chart", traces, layout, PLOT_CONFIG);
  $("equity-chart").dataset.points = String(series.t.length);
}

function drawPrice(b) {
  if (!window.Plotly) return;
  const x = b.t.map(toET);
  const traces = [
    { x, open: b.open, high: b.high, low: b.low, close: b.close, type: "candlestick", name: b.symbol,
      increasing: { line: { color: css("--good") } }, decreasing: { line: { color: css("--bad") } } },
  ];
  // The strategy's own indicators, whatever it draws (the SMAs of sma_crossover, a channel...).
  const palette = ["#f59e0b", "#8b5cf6", "#0ea5e9", "#10b981", "#ef4444", "#64748b"];
  Object.entries(b.indicators).forEach(([name, values], i) => {
    traces.push({ x, y: values, name, type: "scatter", mode: "lines", line: { width: 1.5, color: palette[i % palette.length] } });
  });
  for (const [side, symbol, color] of [["buy", "triangle-up", css("--good")], ["sell", "triangle-down", css("--bad")]]) {
    const marks = b.markers.filter((m) => m.side === side);
    traces.push({ x: marks.map((m) => toET(m.t)), y: marks.map((m) => m.price), name: side === "buy" ? "entry" : "exit",
      type: "scatter", mode: "markers", marker: { symbol, size: 12, color, line: { width: 1, color: css("--panel") } },
      text: marks.map((m) => m.text), hoverinfo: "text" });
  }
  const layout = chartLayout({ xaxis: { gridcolor: css("--line"), type: "date", rangeslider: { visible: false } } });
  if (b.t.length === 0) layout.annotations = [{ text: "no bars yet", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }];
  Plotly.react("price-chart", traces, layout, PLOT_CONFIG);
  $("price-chart").dataset.bars = String(b.t.length);
}

async function refreshCharts() {
  state.chartsAt = Date.now();
  const jobs = [getJSON(`/api/equity?range=${state.range}`).then(drawEquity)];
  if (state.symbol) jobs.push(getJSON(`/api/bars?symbol=${encodeURIComponent(state.symbol)}`).then(drawPrice));
  await Promise.all(jobs);
}

// ---- the loop -----------------------------------------------------------------------------
async function refresh() {
  if (state.busy || state.locked) return;
  state.busy = true;
  try {
    const [status, account, positions, orders, fills, refusals] = await Promise.all([
      getJSON("/api/status"), getJSON("/api/account"), getJSON("/api/positions"),
      getJSON("/api/orders"), getJSON("/api/fills?limit=25"), getJSON("/api/refusals"),
    ]);
    renderStatus(status);
    renderAccount(account);
    renderPositions(positions);
    renderOrders(orders);
    renderFills(fills);
    renderRefusals(refusals);
    if (Date.now() - state.chartsAt >= CHART_REFRESH_MS) await refreshCharts();
    setText("updated", `updated ${new Date().toLocaleTimeString()}`);
    document.body.dataset.loaded = "true";
    if (status.running) $("banner").hidden = true;
  } catch (err) {
    if (err instanceof Unauthorized) {
      const refused = token() !== "";
      sessionStorage.removeItem(TOKEN_KEY);
      askForToken(refused ? "wrong token: try again" : "enter the token to open the dashboard");
      return;
    }
    const banner = $("banner");
    banner.textContent = `Cannot reach the bot (${err.message}); retrying…`;
    banner.hidden = false;
  } finally {
    state.busy = false;
  }
}

async function control(action) {
  const message = $("control-message");
  message.textContent = `${action}…`;
  try {
    const response = await fetch(`/api/${action}`, { method: "POST", cache: "no-store", headers: authHeaders() });
    if (response.status === 401) {
      message.textContent = "the token was refused";
      sessionStorage.removeItem(TOKEN_KEY);
      askForToken("the token was refused: enter it again");
      return;
    }
    if (!response.ok) { message.textContent = `refused (HTTP ${response.status})`; return; }
    if (action === "flatten") { message.textContent = (await response.json()).outcome; return; }
    renderStatus(await response.json());
    message.textContent = action === "halt" ? "halted: no new orders" : "resumed";
  } catch (err) {
    message.textContent = `failed: ${err.message}`;
  }
}

function unlock(event) {
  event.preventDefault();
  const typed = $("login-token").value.trim();
  if (!typed) return;
  sessionStorage.setItem(TOKEN_KEY, typed);
  $("login-token").value = "";
  $("login").hidden = true;
  state.locked = false;
  refresh();
}

function start() {
  buildTables();
  $("login-form").addEventListener("submit", unlock);
  $("halt").addEventListener("click", () => control("halt"));
  $("resume").addEventListener("click", () => control("resume"));
  $("flatten").addEventListener("click", () => {
    if (window.confirm("Close every position of the bot now?")) control("flatten");
  });
  $("control-form").addEventListener("submit", (e) => e.preventDefault());
  $("symbol").addEventListener("change", (e) => { state.symbol = e.target.value; refreshCharts().catch(() => {}); });
  for (const button of document.querySelectorAll(".toggle button")) {
    button.addEventListener("click", () => {
      state.range = button.dataset.range;
      for (const b of document.querySelectorAll(".toggle button")) b.classList.toggle("on", b === button);
      refreshCharts().catch(() => {});
    });
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
