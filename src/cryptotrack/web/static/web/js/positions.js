// The positions page, live: listens on /ws/positions (the session cookie signs it in) and
// updates the server-rendered tables in place. Every value is written with textContent;
// nothing received is ever parsed as HTML. Figures derived from a row (liquidation
// distance, ROE) arrive computed in it, as on the first render.

const table = document.getElementById("positions-table");
const statusLine = document.getElementById("live-status");
const empty = document.getElementById("positions-empty");
const staleLabels = JSON.parse(document.getElementById("stale-labels").textContent);
const accountsTable = document.getElementById("accounts-table");

const UNAUTHORIZED = 4401;
const MAX_DELAY_MS = 30000;
let failures = 0;

function setStatus(state, text) {
  statusLine.dataset.state = state;
  statusLine.textContent = text;
}

// A decimal string without its trailing zeros (exact: no float on the way).
function trimmed(value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

function percent(value) {
  return value === null || !Number.isFinite(value) ? "—" : `${value.toFixed(2)} %`;
}

// The figures come computed in each row (positions/figures.py): the page never
// recomputes them, so it shows what position alerts compare.
function figure(value) {
  return value === null || value === undefined ? null : Number(value);
}

function keyOf(row) {
  return `${row.account.id}:${row.symbol}:${row.side}`;
}

function detailUrl(row) {
  // The server's URL for account 987654321, SYMBOL, long, with this row's values put in.
  const template = table.dataset.detailUrl;
  return template
    .replace("987654321", encodeURIComponent(String(row.account.id)))
    .replace("SYMBOL", encodeURIComponent(row.symbol))
    .replace(/long(\/?)$/, `${encodeURIComponent(row.side)}$1`);
}

function cell(tr, field) {
  return tr.querySelector(`[data-field="${field}"]`);
}

function newRow(row) {
  const tr = document.createElement("tr");
  const heading = document.createElement("th");
  heading.scope = "row";
  const link = document.createElement("a");
  link.dataset.field = "symbol";
  heading.append(link);
  tr.append(heading);
  for (const field of ["side", "size", "entry_price", "mark_price", "liquidation_price",
    "distance", "unrealised_pnl", "roe", "account"]) {
    const td = document.createElement("td");
    td.dataset.field = field;
    if (field !== "side" && field !== "account") td.classList.add("num");
    tr.append(td);
  }
  tr.dataset.key = keyOf(row);
  return tr;
}

function fillRow(tr, row) {
  const link = cell(tr, "symbol");
  link.textContent = row.symbol;
  link.href = detailUrl(row);
  cell(tr, "side").textContent = row.side.charAt(0).toUpperCase() + row.side.slice(1);
  cell(tr, "size").textContent = trimmed(row.size);
  cell(tr, "entry_price").textContent = trimmed(row.entry_price);
  cell(tr, "mark_price").textContent = trimmed(row.mark_price);
  cell(tr, "liquidation_price").textContent = trimmed(row.liquidation_price);
  cell(tr, "distance").textContent = percent(figure(row.liquidation_distance_percent));
  const pnl = Number(row.unrealised_pnl);
  for (const field of ["unrealised_pnl", "roe"]) {
    const td = cell(tr, field);
    td.classList.toggle("gain", pnl > 0);
    td.classList.toggle("loss", pnl < 0);
  }
  cell(tr, "unrealised_pnl").textContent = `${trimmed(row.unrealised_pnl)} ${row.settle_currency}`;
  cell(tr, "roe").textContent = percent(figure(row.roe_percent));
  cell(tr, "account").textContent = row.account.label;
}

function renderPositions(rows) {
  const body = table.tBodies[0];
  const existing = new Map([...body.rows].map((tr) => [tr.dataset.key, tr]));
  const ordered = [];
  for (const row of rows) {
    const key = keyOf(row);
    const tr = existing.get(key) || newRow(row);
    existing.delete(key);
    fillRow(tr, row);
    ordered.push(tr);
  }
  for (const gone of existing.values()) gone.remove();
  ordered.forEach((tr, index) => {
    if (body.rows[index] !== tr) body.insertBefore(tr, body.rows[index] || null);
  });
  empty.hidden = rows.length > 0;
}

function timeText(iso) {
  const at = new Date(iso);
  return `${at.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function renderAccounts(accounts) {
  if (!accountsTable) return;
  const byId = new Map(accounts.map((account) => [String(account.id), account]));
  for (const tr of accountsTable.tBodies[0].rows) {
    const account = byId.get(tr.dataset.account);
    const tracking = account ? account.tracking : "stopped";
    const badge = cell(tr, "tracking");
    badge.textContent = tracking.charAt(0).toUpperCase() + tracking.slice(1);
    badge.classList.toggle("ok", tracking === "active");
    badge.classList.toggle("bad", tracking === "paused");
    badge.classList.toggle("warn", tracking === "stopped");
    const asOf = cell(tr, "as_of");
    if (account && account.as_of) {
      const time = document.createElement("time");
      time.dateTime = account.as_of;
      time.textContent = timeText(account.as_of);
      asOf.replaceChildren(time);
    }
    tr.querySelector('[data-action="start"]').hidden = tracking !== "stopped";
    tr.querySelector('[data-action="stop"]').hidden = tracking === "stopped";
    const reason = account ? account.stale_reason : "tracking_stopped";
    cell(tr, "stale_reason").textContent = staleLabels[reason === null ? "null" : reason] || reason;
  }
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${window.location.host}/ws/positions`);
  setStatus("connecting", "Live updates: connecting…");
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type !== "snapshot" && message.type !== "positions") return;
    failures = 0;
    renderPositions(message.results);
    renderAccounts(message.accounts);
    setStatus("live", `Live: updated ${timeText(new Date().toISOString())}`);
  });
  socket.addEventListener("close", (event) => {
    if (event.code === UNAUTHORIZED) {
      setStatus("offline", "Offline: your session ended. Reload the page to sign in again.");
      return;
    }
    failures += 1;
    const ceiling = Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(failures, 5));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    setStatus("offline", `Offline: reconnecting in ${Math.ceil(delay / 1000)} s.`);
    window.setTimeout(connect, delay);
  });
}

if (table && statusLine && "WebSocket" in window) connect();
