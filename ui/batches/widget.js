// The Batches page's block-size slider in the browser: the server draws the batch for every T at
// once (the windows of text, B x (T + 1) ids per T), and the slider redraws the grids, the count of
// examples and the row's (context, target) pairs without a round trip.
const EVENT = "podium-batches-T";

function ids(d) {  // the windows of every T, as one Uint16Array (base64 of little-endian uint16)
  if (d.__ids) return d.__ids;
  const bin = atob(d.windows), u8 = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
  return (d.__ids = new Uint16Array(u8.buffer));
}

function rows(d, T) {  // x and y for T: B rows of T ids each
  const B = d.B, start = B * ((T - 1) * T / 2 + (T - 1)), w = ids(d), x = [], y = [];
  for (let b = 0; b < B; b++) {
    const o = start + b * (T + 1);
    x.push(Array.from(w.subarray(o, o + T))); y.push(Array.from(w.subarray(o + 1, o + T + 1)));
  }
  return { x, y };
}

function pyrepr(s) {  // Python's repr of a str, as the page printed it before
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === q) out += "\\" + q;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return q + out + q;
}

const esc = s => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function table(d, r, chars, label) {
  let html = `<div class="bw-label">${label}</div><div class="bw-scroll"><table class="bw-grid"><tr><th></th>`;
  for (let t = 0; t < r[0].length; t++) html += `<th>${t}</th>`;
  html += "</tr>";
  r.forEach((row, b) => {
    html += `<tr class="${b === d.row ? "bw-hl" : ""}"><th>row ${b}</th>` +
      row.map(i => `<td>${chars ? esc(d.visible[i]) : i}</td>`).join("") + "</tr>";
  });
  return html + "</table></div>";
}

function drawGrids(root, d, T) {
  const r = rows(d, T), tab = root.__tab || "characters";
  const side = T <= d.side_by_side_max;
  const body = [["x (inputs)", r.x], ["y (targets)", r.y]].map(([label, rr]) => table(d, rr, tab === "characters", label));
  root.innerHTML = `<h2 class="bw-h">x and y: ${d.B} × ${T}</h2><div class="bw-cap">${d.caption}</div>` +
    `<div class="bw-tabs">${["characters", "ids"].map(t => `<button class="bw-tab${t === tab ? " bw-on" : ""}" ` +
      `data-tab="${t}" role="tab" aria-selected="${t === tab}">${t}</button>`).join("")}</div>` +
    `<div class="${side ? "bw-side" : "bw-stack"}"><div>${body[0]}</div><div>${body[1]}</div></div>`;
  root.querySelectorAll(".bw-tab").forEach(btn => btn.addEventListener("click", () => {
    root.__tab = btn.dataset.tab; drawGrids(root, d, +root.dataset.t);
  }));
  root.dataset.t = String(T);
}

function drawPairs(root, d, T) {
  const r = rows(d, T), x = r.x[d.pick], y = r.y[d.pick], raw = d.raw;
  const lines = [];
  let ctx = "";
  for (let t = 0; t < T; t++) {
    ctx += raw[x[t]];
    lines.push(`when input is [${x.slice(0, t + 1).join(", ")}] (${pyrepr(ctx)}) the target is ${y[t]} (${pyrepr(raw[y[t]])})`);
  }
  const head = T <= 32 ? `<div class="bw-cap">x[${d.row}] = [${x.join(", ")}]<br>y[${d.row}] = [${y.join(", ")}]</div>` : "";
  root.innerHTML = head + `<pre class="bw-pairs${T > 16 ? " bw-tall" : ""}">${esc(lines.join("\n"))}</pre>` +
    `<div class="bw-cap">${T} examples from one row of ${T} characters: the model learns to predict with any ` +
    "context from 1 to block_size characters, which is what lets it start generating from a single one.</div>";
  root.dataset.t = String(T);
}

function drawCount(root, d, T) {
  root.innerHTML = `<div class="bw-metric-label">Examples (B × T)</div><div class="bw-metric">${(d.B * T).toLocaleString("en-US")}</div>`;
  root.dataset.t = String(T);
}

export default function (component) {
  const { data, parentElement } = component;
  if (!data) return;
  const root = parentElement.querySelector(".bw-root");
  const now = () => Math.min(+(document.body.dataset.batchesT || data.T), data.T_max);
  if (data.kind === "slider") {
    if (!root.__input) {
      root.innerHTML = `<label class="bw-slider"><span>${data.label}: <b class="bw-val"></b></span>` +
        `<input type="range" min="1" step="1" aria-label="${data.label}"><span class="bw-ends"><span>1</span>` +
        `<span class="bw-max"></span></span></label>`;
      root.__input = root.querySelector("input");
      root.__input.addEventListener("input", () => {
        const T = +root.__input.value;
        root.querySelector(".bw-val").textContent = String(T);
        document.body.dataset.batchesT = String(T);
        document.dispatchEvent(new CustomEvent(EVENT, { detail: T }));
      });
    }
    const T = now();
    root.__input.max = data.T_max; root.__input.value = T;
    root.querySelector(".bw-max").textContent = String(data.T_max);
    root.querySelector(".bw-val").textContent = String(T);
    document.body.dataset.batchesT = String(T);
    document.dispatchEvent(new CustomEvent(EVENT, { detail: T }));
    return;
  }
  const draw = { grids: drawGrids, pairs: drawPairs, count: drawCount }[data.kind];
  draw(root, data, now());
  const listener = e => draw(root, data, Math.min(e.detail, data.T_max));
  document.addEventListener(EVENT, listener);
  return () => document.removeEventListener(EVENT, listener);
}
