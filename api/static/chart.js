// Canvas line charts: linear or log y axis, shaded x intervals, vertical markers, a legend.
"use strict";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
  "#db2777", "#4b5563", "#65a30d"];

function niceTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const step0 = Math.pow(10, Math.floor(Math.log10(span / count)));
  const step = [1, 2, 5, 10].map((m) => m * step0).find((s) => span / s <= count) || step0 * 10;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step) ticks.push(t);
  return ticks;
}

function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return lo <= hi ? [lo, hi] : [0, 1];
}

function formatTick(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-2)) return v.toExponential(0);
  return String(Math.round(v * 100) / 100);
}

// spec: {series: [{name, points: [[x, y]...], color?, dash?}], logY?, shades: [{x0, x1, color,
// label}], markers: [{x, color, label}], yMin?, yMax?}. Returns the number of points drawn.
function drawChart(canvas, spec) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, pad = {l: 52, r: 10, t: 18, b: 24};
  ctx.clearRect(0, 0, W, H);
  const fy = spec.logY ? (y) => Math.log10(y) : (y) => y;
  const usable = spec.series.map((s) => s.points.filter(([x, y]) =>
    Number.isFinite(x) && Number.isFinite(y) && (!spec.logY || y > 0)));
  const xs = usable.flat().map((p) => p[0]);
  const ys = usable.flat().map((p) => fy(p[1]));
  if (!xs.length) {
    ctx.fillStyle = "#6b7378"; ctx.fillText("no data yet", W / 2 - 24, H / 2);
    canvas.dataset.points = "0";
    return 0;
  }
  let [x0, x1] = extent(xs); let [y0, y1] = extent(ys);
  if (spec.yMin !== undefined) y0 = fy(spec.yMin);
  if (spec.yMax !== undefined) y1 = fy(spec.yMax);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const px = (x) => pad.l + (x - x0) / (x1 - x0) * (W - pad.l - pad.r);
  const py = (y) => H - pad.b - (fy(y) - y0) / (y1 - y0) * (H - pad.t - pad.b);
  for (const s of spec.shades || []) {
    ctx.fillStyle = s.color;
    const a = px(Math.max(s.x0, x0)), b = px(Math.min(s.x1 ?? x1, x1));
    if (b > a) ctx.fillRect(a, pad.t, b - a, H - pad.t - pad.b);
  }
  drawAxes(ctx, spec, {W, H, pad, x0, x1, y0, y1, px});
  let drawn = 0;
  usable.forEach((points, i) => {
    const s = spec.series[i];
    ctx.strokeStyle = s.color || PALETTE[i % PALETTE.length];
    ctx.lineWidth = 1.5; ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    points.forEach(([x, y], j) => (j ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
    ctx.stroke(); drawn += points.length;
  });
  ctx.setLineDash([]);
  for (const m of spec.markers || []) {
    if (m.x < x0 || m.x > x1) continue;
    ctx.strokeStyle = m.color; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(px(m.x), pad.t); ctx.lineTo(px(m.x), H - pad.b); ctx.stroke();
    ctx.fillStyle = m.color; ctx.fillText(m.label, px(m.x) + 3, pad.t + 10);
  }
  drawLegend(ctx, spec.series, W, pad);
  canvas.dataset.points = String(drawn);
  return drawn;
}

function drawAxes(ctx, spec, g) {
  ctx.strokeStyle = "#d9dcde"; ctx.fillStyle = "#6b7378"; ctx.lineWidth = 1;
  ctx.font = "11px system-ui, sans-serif";
  for (const t of niceTicks(g.y0, g.y1, 5)) {
    const y = g.H - g.pad.b - (t - g.y0) / (g.y1 - g.y0) * (g.H - g.pad.t - g.pad.b);
    ctx.beginPath(); ctx.moveTo(g.pad.l, y); ctx.lineTo(g.W - g.pad.r, y); ctx.stroke();
    ctx.fillText(formatTick(spec.logY ? Math.pow(10, t) : t), 4, y + 4);
  }
  for (const t of niceTicks(g.x0, g.x1, 6)) {
    ctx.fillText(formatTick(t), g.px(t) - 8, g.H - 8);
  }
}

function drawLegend(ctx, series, W, pad) {
  let x = pad.l + 4;
  ctx.font = "11px system-ui, sans-serif";
  series.slice(0, 8).forEach((s, i) => {
    ctx.fillStyle = s.color || PALETTE[i % PALETTE.length];
    ctx.fillRect(x, 6, 10, 3); ctx.fillText(s.name, x + 13, 11);
    x += 18 + ctx.measureText(s.name).width;
  });
}

window.drawChart = drawChart;
