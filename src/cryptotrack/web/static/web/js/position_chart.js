// The position page's chart: mark price (left axis) with the liquidation price as a dashed
// line on the same axis, and unrealised PnL (right axis), over the chosen range. The data
// comes from the page (json_script "position-chart-data"); without JS the caption and the
// table of points say the same.

const SERIES_COLOURS = { mark: "#6cb6ff", liquidation: "#ff8080", pnl: "#f5c451" };
const AXIS_COLOUR = "#a5b3c1";
const GRID_COLOUR = "#33404d";

function chartWidth(element) {
  return Math.max(260, Math.floor(element.getBoundingClientRect().width));
}

function chartHeight(width) {
  return width < 500 ? 240 : 320;
}

function timeScale(times) {
  // One point has no span of time: show it a minute either side (a fixed range: uPlot
  // stretches a computed one to years).
  if (times.length !== 1) return { time: true };
  return { time: true, auto: false, range: [times[0] - 60, times[0] + 60] };
}

function build(element, data) {
  const currency = element.dataset.currency || "";
  const width = chartWidth(element);
  const axis = (scale, side, label) => ({
    scale,
    side,
    label,
    stroke: AXIS_COLOUR,
    grid: { stroke: GRID_COLOUR, width: 1 },
    ticks: { stroke: GRID_COLOUR, width: 1 },
    size: width < 500 ? 56 : 70,
  });
  const options = {
    // Times in UTC, as the caption and the table say them.
    tzDate: (seconds) => window.uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
    width,
    height: chartHeight(width),
    scales: { x: timeScale(data.time), price: {}, pnl: {} },
    series: [
      {},
      { label: "Mark price", scale: "price", stroke: SERIES_COLOURS.mark, width: 2 },
      {
        label: "Liquidation price",
        scale: "price",
        stroke: SERIES_COLOURS.liquidation,
        width: 2,
        dash: [8, 6],
      },
      {
        label: `Unrealised PnL (${currency})`,
        scale: "pnl",
        stroke: SERIES_COLOURS.pnl,
        width: 1.5,
      },
    ],
    axes: [
      { stroke: AXIS_COLOUR, grid: { stroke: GRID_COLOUR, width: 1 }, ticks: { stroke: GRID_COLOUR, width: 1 } },
      axis("price", 3, "Price"),
      { ...axis("pnl", 1, "PnL"), grid: { show: false } },
    ],
  };
  const columns = [data.time, data.mark_price, data.liquidation_price, data.unrealised_pnl];
  const plot = new window.uPlot(options, columns, element);
  element.dataset.points = String(data.time.length);
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      const w = chartWidth(element);
      plot.setSize({ width: w, height: chartHeight(w) });
    });
  });
  return plot;
}

function start() {
  const element = document.getElementById("position-chart");
  const source = document.getElementById("position-chart-data");
  if (!element || !source || typeof window.uPlot !== "function") return;
  const data = JSON.parse(source.textContent);
  if (!data.time.length) return;
  build(element, data);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
