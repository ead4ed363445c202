// Live training view: poll the run's JSON, redraw curves, reload samples when they change.
"use strict";
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

function drawChart(canvas, series) {
  // series: [{name, points: [[x, y], ...]}]
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 36;
  ctx.clearRect(0, 0, W, H);
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]));
  if (!pts.length) return;
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const X = (x) => pad + (x - x0) / (x1 - x0) * (W - pad - 8), Y = (y) => H - pad + 12 - (y - y0) / (y1 - y0) * (H - pad - 4);
  ctx.strokeStyle = "#999"; ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.beginPath(); ctx.moveTo(pad, 4); ctx.lineTo(pad, H - pad + 12); ctx.lineTo(W - 8, H - pad + 12); ctx.stroke();
  ctx.fillText(y1.toPrecision(3), 2, 12); ctx.fillText(y0.toPrecision(3), 2, H - pad + 12);
  ctx.fillText(String(x0), pad, H - 4); ctx.fillText(String(x1), W - 60, H - 4);
  series.forEach((s, i) => {
    ctx.strokeStyle = COLORS[i % COLORS.length]; ctx.beginPath();
    s.points.filter((p) => Number.isFinite(p[1])).forEach((p, j) => j ? ctx.lineTo(X(p[0]), Y(p[1])) : ctx.moveTo(X(p[0]), Y(p[1])));
    ctx.stroke(); ctx.fillStyle = ctx.strokeStyle; ctx.fillText(s.name, W - 150, 14 + 13 * i);
  });
}

const root = document.getElementById("training");
let samplesMtime = null;

async function refresh() {
  try {
    const st = await ganforge.getJSON(root.dataset.api, false);  // a background poll: no spinner
    document.getElementById("step").textContent = st.step;
    document.getElementById("state").textContent = st.running ? "training now" : "not training";
    const curve = (key) => ({ name: key, points: st.log.filter((r) => key in r).map((r) => [r.step, r[key]]) });
    drawChart(document.getElementById("losses"), [curve("d_loss"), curve("g_loss")]);
    drawChart(document.getElementById("dout"),  // with --augment ada also its p and r_t = E[sign(D(real))]
      [curve("d_real"), curve("d_fake"), ...[curve("ada_p"), curve("ada_rt")].filter((s) => s.points.length)]);
    const keys = [...new Set(st.metrics.flatMap((r) => Object.keys(r).filter((k) => k !== "step" && typeof r[k] === "number")))];
    document.getElementById("no-metrics").hidden = keys.length > 0;
    drawChart(document.getElementById("metrics"),
      keys.map((k) => ({ name: k, points: st.metrics.filter((r) => k in r).map((r) => [r.step, r[k]]) })));
    // The run's standing health warnings (RUN/health.json): what was measured and the usual remedy.
    const warnings = (st.health && st.health.warnings) || [];
    const list = document.getElementById("health");
    list.replaceChildren(...warnings.map((w) => Object.assign(document.createElement("li"), { textContent: w })));
    list.hidden = warnings.length === 0;
    if (st.samples_mtime !== samplesMtime) {
      samplesMtime = st.samples_mtime;
      if (samplesMtime !== null) document.getElementById("samples").src = root.dataset.samples + "?t=" + samplesMtime;
    }
    root.dataset.loaded = "1";
  } catch (e) {
    document.getElementById("state").textContent = "error: " + e.message;
  }
}
refresh();
setInterval(refresh, 3000);
