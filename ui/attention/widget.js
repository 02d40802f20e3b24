// The Attention page's explorer, drawn in the browser (see ui/attention_widget.py for the data).
// Every T the browser holds (decoder view, T <= the characters of the one forward pass) is cut from
// that pass and drawn at once; any other T (encoder view, T past block_size) is asked of the server.
const SLIDER = "Context length T (characters fed to the model)";
const TILE = 300;             // px of each stage map's plot area
const MOSAIC_TILE = 150;      // px of each tile of the layer x head grid
const FONT = "11px sans-serif";

function decode(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const buf = u8.slice().buffer;  // a copy at offset 0, so Float32Array views line up
  const n = new DataView(buf).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  const base = 4 + n;
  const arrays = {};
  for (const [name, [off, shape]] of Object.entries(head.arrays)) {
    const size = shape.reduce((a, b) => a * b, 1);
    arrays[name] = { a: new Float32Array(buf, base + 4 * off, size), shape };
  }
  return { head, arrays };
}

function lut(stops) {  // 256 colours interpolated between a plotly colour scale's stops
  const out = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 0;
    while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
    const [p0, c0] = stops[k], [p1, c1] = stops[k + 1];
    const f = p1 > p0 ? Math.min(1, Math.max(0, (t - p0) / (p1 - p0))) : 0;
    for (let c = 0; c < 3; c++) out[3 * i + c] = c0[c] + f * (c1[c] - c0[c]);
  }
  return out;
}

function rgb(hex) { return [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16)); }

function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

// a probability as ui/fmt.pct writes it: 0.1% steps, "< 0.1%" and "> 99.9%" at the ends
function pct(p) { return p < 0.001 ? "< 0.1%" : p > 0.999 ? "> 99.9%" : `${(100 * p).toFixed(1)}%`; }
function fmt(v, d) { return Number.isFinite(v) ? v.toFixed(d) : "masked (-inf)"; }

// A canvas sized in CSS pixels, sharp on any screen.
function sizeCanvas(cv, w, h) {
  const dpr = window.devicePixelRatio || 1;
  if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
    cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
    cv.style.width = w + "px"; cv.style.height = h + "px";
  }
  const ctx = cv.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.ink = cv.__ink || (cv.__ink = getComputedStyle(cv).color || "#444");  // the theme's text colour, once
  return ctx;
}

// Paint a rows x cols map (get(i, j) -> value or NaN) into ctx at (x, y, w, h) with one pixel a cell,
// scaled up without smoothing: one drawImage, whatever T is.
function paint(ctx, scratch, rows, cols, get, lo, hi, colours, grey, x, y, w, h) {
  if (scratch.width < cols || scratch.height < rows) {  // grown, never shrunk: no reallocation per frame
    scratch.width = Math.max(scratch.width, cols); scratch.height = Math.max(scratch.height, rows);
  }
  const sctx = scratch.getContext("2d");
  const img = sctx.createImageData(cols, rows);
  const px = img.data, span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = get(i, j), o = 4 * (i * cols + j);
      if (Number.isFinite(v)) {
        const k = 3 * Math.max(0, Math.min(255, Math.round(255 * (v - lo) / span)));
        px[o] = colours[k]; px[o + 1] = colours[k + 1]; px[o + 2] = colours[k + 2];
      } else { px[o] = grey[0]; px[o + 1] = grey[1]; px[o + 2] = grey[2]; }
      px[o + 3] = 255;
    }
  }
  sctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, 0, 0, cols, rows, x, y, w, h);
}

function colorbar(ctx, colours, lo, hi, x, y, h, title) {
  const grad = ctx.createLinearGradient(0, y + h, 0, y);  // one fill, not a rectangle per pixel
  for (let i = 0; i < 256; i += 15) grad.addColorStop(i / 255, `rgb(${colours[3 * i]},${colours[3 * i + 1]},${colours[3 * i + 2]})`);
  grad.addColorStop(1, `rgb(${colours[765]},${colours[766]},${colours[767]})`);
  ctx.fillStyle = grad; ctx.fillRect(x, y, 10, h);
  ctx.fillStyle = ctx.ink; ctx.font = FONT; ctx.textAlign = "left"; ctx.textBaseline = "middle";
  ctx.fillText(hi.toFixed(2), x + 13, y + 4);
  ctx.fillText(lo.toFixed(2), x + 13, y + h - 4);
  if (Math.abs(hi - lo) > 0 && lo < 0 && hi > 0) ctx.fillText("0", x + 13, y + h * hi / (hi - lo));
  ctx.save(); ctx.translate(x + 52, y + h / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = "center";
  ctx.fillText(title, 0, 0); ctx.restore();
}

function ticks(ctx, labels, n, start, cell, along, fixed) {  // axis labels, thinned to fit
  const every = Math.max(1, Math.ceil(12 / cell));
  ctx.fillStyle = ctx.ink; ctx.font = FONT;
  for (let i = 0; i < n; i += every) {
    const c = start + (i + 0.5) * cell;
    if (along === "x") {
      ctx.save(); ctx.translate(c, fixed); ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left"; ctx.textBaseline = "middle"; ctx.fillText(labels[i], 2, 0); ctx.restore();
    } else {
      ctx.textAlign = "right"; ctx.textBaseline = "middle"; ctx.fillText(labels[i], fixed, c);
    }
  }
}

function build(root) {
  root.innerHTML = "";
  const ui = {};
  const controls = el("div", "pa-controls", root);
  const sl = el("label", "pa-slider", controls);
  const top = el("span", "", sl);
  el("span", "", top, SLIDER + ": ");
  ui.tval = el("span", "pa-tval", top);
  ui.slider = el("input", "", sl);
  ui.slider.type = "range"; ui.slider.min = 1; ui.slider.step = 1;
  ui.slider.setAttribute("aria-label", SLIDER);
  const ends = el("div", "pa-ends", sl);
  el("span", "", ends, "1"); ui.max = el("span", "", ends);
  for (const name of ["Layer", "Head"]) {
    const lab = el("label", "", controls, name);
    ui[name] = el("select", "", lab);
    ui[name].setAttribute("aria-label", name);
  }
  ui.note = el("div", "pa-note", root);
  ui.warn = el("div", "pa-warn", root);
  ui.title = el("div", "pa-h", root);
  ui.tilebox = el("div", "pa-tiles", root);
  ui.tiles = [];
  for (let s = 0; s < 5; s++) {
    const box = el("div", "", ui.tilebox);
    const t = { title: el("div", "pa-tile-title", box), cv: el("canvas", "pa-stage", box), stage: s };
    ui.tiles.push(t);
  }
  ui.guess = el("div", "pa-note", root);
  el("div", "pa-h", root, "Every layer and head");
  el("div", "pa-note", root, "Each tile is one head's softmax weights (query = row, key = column); click one to show its stages above.");
  ui.mosaic = el("canvas", "pa-mosaic", root);
  const det = el("details", "", root);
  el("summary", "", det, "Shapes at each stage");
  ui.shapes = el("table", "", det);
  ui.tip = el("div", "pa-tip", root);
  ui.scratch = document.createElement("canvas");
  return ui;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  if (!data) return;
  const root = parentElement.querySelector(".pa-root");
  const { head: h, arrays } = decode(data);
  const s = root.__pa || (root.__pa = { T: h.T, layer: 0, head: 0, sent: null, timer: null });
  if (!root.__ui) root.__ui = build(root);
  const ui = root.__ui;
  const colours = { diverging: lut(h.scales.diverging), sequential: lut(h.scales.sequential) };
  const grey = rgb(h.grey);
  const local = h.local ? { ...h.local, n: h.local.T } : null;
  const exact = h.exact || null;
  const arr = (part, name) => arrays[`${part}.${name}`];

  s.T = Math.max(1, Math.min(h.limit, s.T || h.T));
  s.layer = Math.min(s.layer, h.L - 1); s.head = Math.min(s.head, h.H - 1);
  ui.slider.max = h.limit; ui.slider.value = s.T; ui.max.textContent = String(h.limit);
  for (const [name, n] of [["Layer", h.L], ["Head", h.H]]) {
    if (ui[name].options.length !== n) {
      ui[name].innerHTML = "";
      for (let i = 0; i < n; i++) el("option", "", ui[name], `${name.toLowerCase()} ${i + 1}`).value = i;
    }
  }
  ui.Layer.value = s.layer; ui.Head.value = s.head;

  // Where the numbers for T come from: the browser's own pass, or the server's pass for exactly T.
  function source(T) {
    if (h.causal && local && T <= local.n) return { part: "local", n: local.n, T, labels: local.labels.slice(0, T),
      next: local.guesses[T - 1], cropped: 0, where: "browser" };
    if (exact && exact.requested === T && exact.causal === h.causal) return { part: "exact", n: exact.T, T: exact.T,
      labels: exact.labels, next: exact.guesses[exact.guesses.length - 1], cropped: exact.cropped, where: "server" };
    return null;
  }

  function askServer(T) {
    clearTimeout(s.timer);
    if (s.sent === T) return;
    s.timer = setTimeout(() => { s.sent = T; setStateValue("T", T); }, 40);
  }

  function draw() {
    const T = s.T;
    ui.tval.textContent = String(T);
    const src = source(T);
    root.dataset.requested = String(T);
    if (!src) {  // not held here: show the last drawing dimmed until the server's pass arrives
      root.classList.add("pa-busy");
      ui.note.textContent = !h.causal
        ? `Encoder view: without the mask every character sees the whole context, so each T is its own forward pass; computing T = ${T} on the server...`
        : T > h.block_size
          ? `T = ${T} is past block_size = ${h.block_size}: the context is cropped, which changes every number; computing T = ${T} on the server...`
          : `The browser holds T up to ${local ? local.n : 0} (a model this size sends no more); computing T = ${T} on the server...`;
      askServer(T);
      return;
    }
    root.classList.remove("pa-busy");
    const L = s.layer, H = s.head, n = src.n, Tn = src.T, hs = h.hs;
    const sc = arr(src.part, "scores").a, wt = arr(src.part, "weights").a, out = arr(src.part, "out").a;
    const mapBase = ((L * h.H) + H) * n * n, outBase = ((L * h.H) + H) * n * hs;
    const masked = (i, j) => h.causal && j > i;
    const stages = [
      { name: "1. q @ k^T", get: (i, j) => sc[mapBase + i * n + j], div: true, bar: "affinity" },
      { name: `2. scaled: q @ k^T x ${h.scale.toFixed(4)} = q @ k^T / sqrt(${hs})`,
        get: (i, j) => sc[mapBase + i * n + j] * h.scale, div: true, bar: "affinity" },
      { name: h.causal ? "3. masked: the future is -inf (grey)" : "3. encoder: nothing is masked",
        get: (i, j) => masked(i, j) ? NaN : sc[mapBase + i * n + j] * h.scale, div: true, bar: "affinity" },
      { name: "4. softmax: each row sums to 1", get: (i, j) => wt[mapBase + i * n + j], lo: 0, hi: 1,
        bar: "weight [0, 1]", value: "weight" },
      { name: `5. output = softmax @ v: (${hs} channels x T)`, get: (c, t) => out[outBase + t * hs + c], div: true,
        bar: "value", rows: hs, out: true },
    ];
    ui.title.textContent = `Attention stages, layer ${L + 1}, head ${H + 1}: query = row (attending), key = column`;
    ui.tiles.forEach((tile, k) => drawStage(tile, stages[k], Tn, src.labels));
    drawMosaic(wt, n, Tn, src.labels);
    const tail = src.labels.map(l => l.split(" (")[0]).join("").slice(-20).replace(/␣/g, " ").replace(/↵/g, "\\n");
    ui.guess.textContent = (h.causal ? `Next-character guesses after ...'${tail}': `
      : `Without the mask these are not predictions: every position now also sees the characters after it, ` +
        `and this model was trained only with the mask (an encoder is trained for other tasks, such as filling ` +
        `a blank). What its head outputs after ...'${tail}' would read as: `) +
      src.next.map(([c, p]) => `${JSON.stringify(c)} ${pct(p)}`).join(", ");
    ui.note.textContent = src.where === "browser"
      ? `T = ${T}: drawn in your browser, cut from one forward pass over the first ${n} characters.`
      : `T = ${T}: computed on the server (${!h.causal ? "encoder view" : src.cropped ? "cropped context" : "past the browser's range"}), one forward pass for this T.`;
    ui.warn.style.display = src.cropped ? "" : "none";
    if (src.cropped) {
      ui.warn.textContent = `T = ${T} is more than block_size = ${h.block_size}: the position-embedding table has ` +
        `rows 0..${h.block_size - 1} only, so there is no embedding for position ${h.block_size} or later. As the ` +
        `lecture's generate() does, the context is cropped to its last ${h.block_size} characters (the first ` +
        `${src.cropped} are dropped).`;
    }
    const C = h.C;
    ui.shapes.innerHTML = "<tr><th>stage</th><th>shape</th></tr>" + [
      ["x = token emb + position emb", `(B, T, C) = (1, ${Tn}, ${C})`],
      ["q, k, v = x @ W (one head)", `(B, T, head_size) = (1, ${Tn}, ${hs})`],
      ["q @ k^T, scaled, masked, softmax", `(B, T, T) = (1, ${Tn}, ${Tn})`],
      ["softmax @ v (one head)", `(B, T, head_size) = (1, ${Tn}, ${hs})`],
      ["concat of heads -> proj", `(B, T, C) = (1, ${Tn}, ${h.H * hs})`],
      ["logits", `(B, T, vocab) = (1, ${Tn}, ${h.vocab})`],
    ].map(([a, b]) => `<tr><td>${a}</td><td><code>${b}</code></td></tr>`).join("");
    root.dataset.t = String(Tn); root.dataset.layer = String(L); root.dataset.head = String(H);
    root.dataset.source = src.where;
  }

  function drawStage(tile, st, T, labels) {
    const rows = st.rows || T, cols = T;
    let lo = st.lo, hi = st.hi;
    if (st.div) {  // centred on 0, over what is drawn (as plotly's zmid does)
      let m = 0;
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
        const v = st.get(i, j); if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
      }
      lo = -(m || 1); hi = m || 1;
    }
    const cell = TILE / T, ch = st.out ? Math.min(TILE, Math.max(60, rows * Math.min(cell, 6))) / rows : cell;
    const left = st.out ? 70 : 64, topM = 64, w = cols * cell, hgt = rows * ch;
    const ctx = sizeCanvas(tile.cv, left + TILE + 70, topM + hgt + 6);
    ctx.clearRect(0, 0, left + TILE + 70, topM + hgt + 6);
    paint(ctx, ui.scratch, rows, cols, st.get, lo, hi, st.div ? colours.diverging : colours.sequential, grey,
      left, topM, w, hgt);
    ticks(ctx, labels, cols, left, cell, "x", topM - 3);
    const ylabels = st.out ? Array.from({ length: rows }, (_, c) => `channel ${c}`) : labels;
    ticks(ctx, ylabels, rows, topM, ch, "y", left - 3);
    colorbar(ctx, st.div ? colours.diverging : colours.sequential, lo, hi, left + w + 8, topM, Math.max(40, hgt), st.bar);
    tile.title.textContent = st.name;
    tile.cv.dataset.t = String(T); tile.cv.dataset.name = st.name;
    tile.geom = { left, top: topM, cell, ch, rows, cols, st, labels, ylabels };
    if (!tile.cv.__hover) {
      tile.cv.__hover = true;
      tile.cv.addEventListener("mousemove", e => hoverStage(tile, e));
      tile.cv.addEventListener("mouseleave", () => { ui.tip.style.display = "none"; });
    }
  }

  function hoverStage(tile, e) {
    const g = tile.geom, r = tile.cv.getBoundingClientRect();
    const j = Math.floor((e.clientX - r.left - g.left) / g.cell), i = Math.floor((e.clientY - r.top - g.top) / g.ch);
    if (i < 0 || j < 0 || i >= g.rows || j >= g.cols) { ui.tip.style.display = "none"; return; }
    const v = g.st.get(i, j);
    const text = g.st.out ? `position ${g.labels[j]}<br>${g.ylabels[i]}<br>value ${fmt(v, 4)}`
      : `query ${g.labels[i]}<br>key ${g.labels[j]}<br>${g.st.value || "affinity"} ${fmt(v, 4)}`;
    tip(text, e);
  }

  function tip(html, e) {
    const rr = root.getBoundingClientRect();
    ui.tip.innerHTML = html; ui.tip.style.display = "block";
    ui.tip.style.left = (e.clientX - rr.left + 14) + "px"; ui.tip.style.top = (e.clientY - rr.top + 14) + "px";
  }

  function drawMosaic(wt, n, T, labels) {
    const gap = 10, left = 60, topM = 24, cw = MOSAIC_TILE;
    const W = left + h.H * (cw + gap) + 70, Hh = topM + h.L * (cw + gap);
    const ctx = sizeCanvas(ui.mosaic, W, Hh);
    ctx.clearRect(0, 0, W, Hh);
    ctx.font = "12px sans-serif"; ctx.fillStyle = ctx.ink; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    for (let c = 0; c < h.H; c++) ctx.fillText(`head ${c + 1}`, left + c * (cw + gap) + cw / 2, topM - 4);
    for (let r = 0; r < h.L; r++) {
      ctx.save(); ctx.translate(left - 10, topM + r * (cw + gap) + cw / 2); ctx.rotate(-Math.PI / 2);
      ctx.fillText(`layer ${r + 1}`, 0, 0); ctx.restore();
      for (let c = 0; c < h.H; c++) {
        const base = (r * h.H + c) * n * n;
        const x = left + c * (cw + gap), y = topM + r * (cw + gap);
        paint(ctx, ui.scratch, T, T, (i, j) => wt[base + i * n + j], 0, 1, colours.sequential, grey, x, y, cw, cw);
        const hl = h.head_labels && h.head_labels[r] && h.head_labels[r][c];
        if (hl) {  // the head's strongest pattern (core.heads): what it does, at a glance
          ctx.save(); ctx.fillStyle = "rgba(255,255,255,0.85)"; ctx.fillRect(x, y + cw - 16, cw, 16);
          ctx.fillStyle = "#222"; ctx.textAlign = "left"; ctx.textBaseline = "alphabetic"; ctx.font = "11px sans-serif";
          // within its tile: a long label ("broad: ~13 chars, leans to 'r'") is cut with "…", its score kept
          // (it ran on under the next tile, and past the last one)
          // the named pattern's score; a broad head follows none and comes without one (core.probe.heads.label_score)
          const score = hl[1] === null ? "" : ` ${hl[1].toFixed(2)}`;
          let name = hl[0];
          while (name.length > 1 && ctx.measureText(name + score).width > cw - 6) name = name.slice(0, -2) + "…";
          ctx.fillText(name + score, x + 3, y + cw - 4); ctx.restore();
        }
        if (r === s.layer && c === s.head) {
          ctx.strokeStyle = "#ff4b4b"; ctx.lineWidth = 3; ctx.strokeRect(x - 2, y - 2, cw + 4, cw + 4);
        }
      }
    }
    colorbar(ctx, colours.sequential, 0, 1, left + h.H * (cw + gap) + 4, topM, h.L * (cw + gap) - gap, "weight");
    ui.mosaic.dataset.t = String(T);
    ui.mgeom = { gap, left, topM, cw, T, labels, wt, n };
  }

  function mosaicCell(e) {
    const g = ui.mgeom, r = ui.mosaic.getBoundingClientRect();
    const x = e.clientX - r.left - g.left, y = e.clientY - r.top - g.topM;
    const c = Math.floor(x / (g.cw + g.gap)), l = Math.floor(y / (g.cw + g.gap));
    const fx = x - c * (g.cw + g.gap), fy = y - l * (g.cw + g.gap);
    if (c < 0 || l < 0 || c >= h.H || l >= h.L || fx >= g.cw || fy >= g.cw) return null;
    return { l, c, i: Math.floor(fy / g.cw * g.T), j: Math.floor(fx / g.cw * g.T) };
  }

  function hoverMosaic(e) {
    const m = mosaicCell(e), g = ui.mgeom;
    if (!m) { ui.tip.style.display = "none"; return; }
    const v = g.wt[(m.l * h.H + m.c) * g.n * g.n + m.i * g.n + m.j];
    tip(`layer ${m.l + 1} · query ${g.labels[m.i]}<br>head ${m.c + 1} · key ${g.labels[m.j]}<br>weight ${fmt(v, 3)}`, e);
  }

  // Events: set once (the handlers read the latest state through root.__draw).
  root.__draw = draw;
  root.__mosaicCell = mosaicCell;
  root.__hoverMosaic = hoverMosaic;
  if (!root.__wired) {
    root.__wired = true;
    let frame = 0;
    const later = () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; root.__draw(); }); };
    ui.slider.addEventListener("input", () => { root.__pa.T = +ui.slider.value; later(); });
    ui.Layer.addEventListener("change", () => { root.__pa.layer = +ui.Layer.value; later(); });
    ui.Head.addEventListener("change", () => { root.__pa.head = +ui.Head.value; later(); });
    ui.mosaic.addEventListener("click", e => {
      const m = root.__mosaicCell(e);
      if (m) { root.__pa.layer = m.l; root.__pa.head = m.c; ui.Layer.value = m.l; ui.Head.value = m.c; later(); }
    });
    ui.mosaic.addEventListener("mousemove", e => root.__hoverMosaic(e));
    ui.mosaic.addEventListener("mouseleave", () => { ui.tip.style.display = "none"; });
  }
  draw();
}
