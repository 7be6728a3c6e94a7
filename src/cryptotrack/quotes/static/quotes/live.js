// The live-rates page: follows /ws/rates for one pair, shows the newest quote and a chart
// of the recent ones. No library: the chart is one SVG polyline.
(function () {
  "use strict";

  const root = document.getElementById("rates");
  const pair = { from: root.dataset.from, to: root.dataset.to };
  const maxPoints = Number(root.dataset.points) || 60;
  const history = JSON.parse(document.getElementById("history").textContent || "[]");
  const el = (id) => document.getElementById(id);

  function formatNumber(text) {
    if (text === null || text === undefined || text === "") return "—";
    const value = Number(text);
    if (!Number.isFinite(value)) return String(text);
    const digits = Math.abs(value) >= 100 ? 4 : 8;
    return value.toLocaleString("en-US", { maximumFractionDigits: digits });
  }

  function formatTime(iso) {
    if (!iso) return "—";
    const when = new Date(iso);
    return Number.isNaN(when.getTime()) ? iso : when.toISOString().replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
  }

  function setText(id, text) {
    const node = el(id);
    if (node.textContent === text) return;
    node.textContent = text;
    node.classList.add("flash");
    setTimeout(() => node.classList.remove("flash"), 600);
  }

  function show(quote) {
    setText("rate", formatNumber(quote.rate));
    setText("bid", formatNumber(quote.bid));
    setText("ask", formatNumber(quote.ask));
    el("refreshed").textContent = formatTime(quote.refreshed_at);
    el("refreshed").dateTime = quote.refreshed_at || "";
    el("fetched").textContent = formatTime(quote.fetched_at);
    el("fetched").dateTime = quote.fetched_at || "";
    document.title = `${formatNumber(quote.rate)} ${pair.from}/${pair.to} · cryptotrack`;
  }

  function drawChart() {
    const values = history.map((q) => Number(q.rate)).filter(Number.isFinite);
    const line = el("chart-line");
    el("chart-count").textContent = values.length ? `${values.length} quotes` : "no quotes yet";
    if (!values.length) {
      line.setAttribute("points", "");
      return;
    }
    const min = Math.min(...values);
    const max = Math.max(...values);
    const span = max - min || Math.abs(max) * 0.001 || 1;
    const step = values.length > 1 ? 600 / (values.length - 1) : 0;
    const points = values.map((v, i) => {
      const x = values.length > 1 ? i * step : 300;
      const y = 190 - ((v - min) / span) * 180;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    if (points.length === 1) points.unshift(`0,${points[0].split(",")[1]}`);
    line.setAttribute("points", points.join(" "));
    el("chart-min").textContent = `min ${formatNumber(min)}`;
    el("chart-max").textContent = `max ${formatNumber(max)}`;
  }

  function add(quote) {
    if (quote.from_currency !== pair.from || quote.to_currency !== pair.to) return;
    const last = history[history.length - 1];
    const same = last && last.fetched_at === quote.fetched_at && last.rate === quote.rate;
    if (!same) {
      history.push(quote);
      while (history.length > maxPoints) history.shift();
    }
    show(quote);
    drawChart();
  }

  function setStatus(state, text) {
    const status = el("status");
    status.className = `status ${state}`;
    status.textContent = text;
    root.dataset.connection = state;
  }

  let retryDelay = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const query = `from_currency=${encodeURIComponent(pair.from)}&to_currency=${encodeURIComponent(pair.to)}`;
    const socket = new WebSocket(`${scheme}${location.host}/ws/rates?${query}`);
    socket.addEventListener("open", () => {
      retryDelay = 500;
      setStatus("live", "live");
    });
    socket.addEventListener("message", (event) => {
      try {
        add(JSON.parse(event.data));
      } catch (error) {
        console.error("bad frame", error);
      }
    });
    socket.addEventListener("close", () => {
      setStatus("reconnecting", "reconnecting…");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  if (history.length) show(history[history.length - 1]);
  drawChart();
  connect();
})();
