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

function cell(v, lo, hi, colours, grey) {
  if (v === null) return `<td style="background:${grey}" title="-inf (masked)">-inf</td>`;
  const k = Math.max(0, Math.min(255, Math.round(255 * (v - lo) / ((hi - lo) || 1))));
  const [r, g, b] = colours[k];
  const ink = 0.299 * r + 0.587 * g + 0.114 * b < 140 ? "#fff" : "#222";
  return `<td style="background:rgb(${r},${g},${b});color:${ink}" title="${v.toFixed(4)}">${v.toFixed(2)}</td>`;
}

function drawMatrix(root, d, T) {
  const m = d.per_T[T - 1], z = m.z, colours = root.__colours;
  const lo = m.lo, hi = m.hi;
  const big = z.length > 8 || z[0].length > 8;  // values written in the cells up to 8 x 8, on hover past it
  let html = `<div class="tw-title">${d.title}</div><table class="tw-m${big ? " tw-big" : ""}"><tr><th class="tw-corner">${d.y_title} \\ ${d.x_title}</th>`;
  for (let j = 0; j < z[0].length; j++) html += `<th>${j}</th>`;
  html += "</tr>";
  z.forEach((row, i) => { html += `<tr><th>${i}</th>` + row.map(v => cell(v, lo, hi, colours, d.grey)).join("") + "</tr>"; });
  root.innerHTML = html + "</table>";
  root.dataset.t = String(T); root.dataset.rows = String(z.length); root.dataset.cols = String(z[0].length);
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
  return () => document.removeEventListener(EVENT, listener);
}
