// The Trick page's T slider and the matrices that follow it, in the browser: the server sends every
// T's matrices at once (T <= 16, a few kB), the slider tells the matrices on the page which T to show.
const EVENT = "podium-trick-T";

function lut(stops) {
  const out = [];
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 0;
    while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
    const [p0, c0] = stops[k], [p1, c1] = stops[k + 1];
    const f = p1 > p0 ? Math.min(1, Math.max(0, (t - p0) / (p1 - p0))) : 0;
    out.push([0, 1, 2].map(c => Math.round(c0[c] + f * (c1[c] - c0[c]))));
  }
  return out;
}

const BOX = 230;  // px at most: every matrix is drawn in the same box at every T (no page relayout)
const MIN_BOX = 120;

// The box fits the column the matrix stands in (a fixed 230 px ran over the next column's matrix or
// caption when the page was narrower than the four columns need).
function boxFor(root, left) {
  const width = root.clientWidth || BOX + left;
  return Math.max(MIN_BOX, Math.min(BOX, width - left - 2));
}

function drawMatrix(root, d, T) {
  const m = d.per_T[T - 1], z = m.z, colours = root.__colours, rows = z.length, cols = z[0].length;
  if (!root.__cv) {
    root.innerHTML = `<div class="tw-title"></div><canvas></canvas>`;
    root.__cv = root.querySelector("canvas");
    root.__cv.addEventListener("mousemove", e => {  // hover: the cell's row, column and value
      const g = root.__geom, r = root.__cv.getBoundingClientRect();
      const j = Math.floor((e.clientX - r.left - g.left) / g.cw), i = Math.floor((e.clientY - r.top - g.top) / g.ch);
      const v = i >= 0 && j >= 0 && i < g.rows && j < g.cols ? g.z[i][j] : undefined;
      root.__cv.title = v === undefined ? "" : `${g.y} ${i}, ${g.x} ${j}: ${v === null ? "-inf" : v.toFixed(4)}`;
    });
  }
  root.querySelector(".tw-title").textContent = d.title;
  const dpr = window.devicePixelRatio || 1, left = 22, top = 16, box = boxFor(root, left);
  const W = box + left, H = box * 0.75 + top;
  const cw = Math.min(34, box / cols), ch = Math.min(24, (H - top) / rows);
  if (root.__cv.width !== Math.round(W * dpr) || root.__cv.height !== Math.round(H * dpr)) {
    root.__cv.width = Math.round(W * dpr); root.__cv.height = Math.round(H * dpr);
    root.__cv.style.width = W + "px"; root.__cv.style.height = H + "px";
  }
  const ctx = root.__cv.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, W, H);
  ctx.font = "10px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
  const text = rows <= 8 && cols <= 8 && cw >= 22, span = (m.hi - m.lo) || 1;  // "-0.25" fits its cell
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = z[i][j], x = left + j * cw, y = top + i * ch;
      let ink = "#222";
      if (v === null) ctx.fillStyle = d.grey;
      else {
        const [r, g, b] = colours[Math.max(0, Math.min(255, Math.round(255 * (v - m.lo) / span)))];
        ctx.fillStyle = `rgb(${r},${g},${b})`;
        if (0.299 * r + 0.587 * g + 0.114 * b < 140) ink = "#fff";
      }
      ctx.fillRect(x, y, cw - 1, ch - 1);
      if (text) { ctx.fillStyle = ink; ctx.fillText(v === null ? "-inf" : v.toFixed(2), x + cw / 2, y + ch / 2); }
    }
  }
  ctx.fillStyle = "#666";
  for (let j = 0; j < cols; j++) ctx.fillText(String(j), left + (j + 0.5) * cw, top / 2);
  ctx.textAlign = "right";
  for (let i = 0; i < rows; i++) ctx.fillText(String(i), left - 4, top + (i + 0.5) * ch);
  root.__geom = { left, top, cw, ch, rows, cols, z, x: d.x_title, y: d.y_title };
  root.dataset.t = String(T); root.dataset.rows = String(rows); root.dataset.cols = String(cols);
}

function drawBadge(root, d, T) {
  const m = d.per_T[T - 1];
  root.innerHTML = `<div class="tw-badge ${m.allclose ? "tw-ok" : "tw-bad"}">allclose: ${m.allclose ? "True" : "False"}, ` +
    `max |diff| = ${m.max_diff.toExponential(2)} (T = ${T})</div>`;
  root.dataset.t = String(T);
}

export default function (component) {
  const { data, parentElement } = component;
  if (!data) return;
  const root = parentElement.querySelector(".tw-root");
  if (data.kind === "slider") {
    if (!root.__input) {
      root.innerHTML = `<label class="tw-slider"><span>${data.label}: <b class="tw-val"></b></span>` +
        `<input type="range" min="1" step="1" aria-label="${data.label}"><span class="tw-ends"><span>1</span>` +
        `<span class="tw-max"></span></span></label>`;
      root.__input = root.querySelector("input");
      root.__input.addEventListener("input", () => {
        const T = +root.__input.value;
        root.querySelector(".tw-val").textContent = String(T);
        document.body.dataset.trickT = String(T);
        document.dispatchEvent(new CustomEvent(EVENT, { detail: T }));
      });
    }
    const T = Math.min(+(document.body.dataset.trickT || data.T), data.max);
    root.__input.max = data.max; root.__input.value = T;
    root.querySelector(".tw-max").textContent = String(data.max);
    root.querySelector(".tw-val").textContent = String(T);
    document.body.dataset.trickT = String(T);
    document.dispatchEvent(new CustomEvent(EVENT, { detail: T }));
    return;
  }
  root.__colours = data.kind === "matrix" ? lut(data.stops) : null;

  const draw = T => (data.kind === "badge" ? drawBadge : drawMatrix)(root, data, Math.min(T, data.per_T.length));
  draw(+(document.body.dataset.trickT || data.T));
  const listener = e => draw(e.detail);
  document.addEventListener(EVENT, listener);
  let width = root.clientWidth;
  const resized = new ResizeObserver(() => {  // the column narrowed or widened: the box follows it
    if (root.clientWidth === width) return;
    width = root.clientWidth;
    draw(+(document.body.dataset.trickT || data.T));
  });
  resized.observe(root);
  return () => { document.removeEventListener(EVENT, listener); resized.disconnect(); };
}
