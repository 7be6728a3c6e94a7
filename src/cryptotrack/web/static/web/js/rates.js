// The rates page: the pair's history as a uPlot chart (data from json_script), and its live
// value over the public /ws/rates socket (each new quote also extends the chart).
const root = document.getElementById("rates");
const pair = { from: root.dataset.from, to: root.dataset.to };
const maxPoints = Number(root.dataset.points) || 240;
const history = JSON.parse(document.getElementById("rates-history").textContent || "[]");
const chartBox = document.getElementById("rates-chart");
const el = (id) => document.getElementById(id);

const seconds = (iso) => Date.parse(iso) / 1000;
// "2026-12-04T20:40:34.983Z" as the page writes times: "2026-12-04 20:40:34 UTC".
function utcMoment(iso) {
  const parsed = new Date(iso);
  return Number.isNaN(parsed.getTime()) ? iso : `${parsed.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

const points = () => [history.map((q) => seconds(q.fetched_at)), history.map((q) => Number(q.rate))];

function formatRate(text) {
  const value = Number(text);
  if (!Number.isFinite(value)) return String(text ?? "—");
  return value.toLocaleString("en-US", { maximumFractionDigits: Math.abs(value) >= 100 ? 2 : 8 });
}

let chart = null;
function chartSize() {
  return { width: Math.max(200, chartBox.clientWidth), height: 240 };
}

function drawChart() {
  if (!window.uPlot) return;
  if (chart) {
    chart.setData(points());
    return;
  }
  const style = getComputedStyle(document.documentElement);
  const text = style.getPropertyValue("--text").trim() || "#e6edf3";
  const line = style.getPropertyValue("--line").trim() || "#33404d";
  const axis = { stroke: text, grid: { stroke: line }, ticks: { stroke: line } };
  chart = new window.uPlot(
    {
      ...chartSize(),
      series: [
        {},
        {
          label: `${pair.from}/${pair.to}`,
          stroke: style.getPropertyValue("--accent").trim() || "#6cb6ff",
          width: 2,
          value: (u, v) => (v == null ? "—" : formatRate(v)),
        },
      ],
      axes: [axis, { ...axis, size: 80, values: (u, ticks) => ticks.map(formatRate) }],
      scales: { x: { time: true } },
      legend: { live: true },
    },
    points(),
    chartBox,
  );
  root.dataset.chart = "drawn";
}

function show(quote) {
  el("live-rate").textContent = formatRate(quote.rate);
  el("live-fetched").textContent = utcMoment(quote.fetched_at);
  el("live-fetched").dateTime = quote.fetched_at;
  el("live-source").textContent = quote.source;
}

function add(quote) {
  if (quote.from_currency !== pair.from || quote.to_currency !== pair.to) return;
  const last = history[history.length - 1];
  if (!last || last.fetched_at !== quote.fetched_at || last.rate !== quote.rate) {
    history.push(quote);
    while (history.length > maxPoints) history.shift();
    el("chart-count").textContent = String(history.length);
    drawChart();
  }
  show(quote);
}

function setStatus(state, text) {
  const status = el("live-status");
  status.textContent = text;
  status.classList.toggle("ok", state === "live");
  status.classList.toggle("warn", state !== "live");
  root.dataset.connection = state;
}

let retryDelay = 500;
function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const query = new URLSearchParams({ from_currency: pair.from, to_currency: pair.to });
  const socket = new WebSocket(`${scheme}${location.host}/ws/rates?${query}`);
  socket.addEventListener("open", () => {
    retryDelay = 500;
    setStatus("live", "live");
  });
  socket.addEventListener("message", (event) => {
    try {
      add(JSON.parse(event.data));
    } catch (error) {
      console.warn("rates: a frame that is not a quote", error);
    }
  });
  socket.addEventListener("close", () => {
    setStatus("reconnecting", "reconnecting…");
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  });
}

drawChart();
window.addEventListener("resize", () => chart && chart.setSize(chartSize()));
connect();
