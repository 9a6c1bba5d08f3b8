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
  drawMarkers(canvas, ctx, spec.markers || [], {W, H, pad, x0, x1, px});
  drawLegend(ctx, spec.series, W, pad);
  canvas.dataset.points = String(drawn);
  return drawn;
}

// Vertical marker lines with labels stacked in rows so that no two overlap; a label with no free
// row is left out (its line stays) and every marker's label shows as the tooltip near its line.
// canvas.dataset.labels holds the drawn label boxes, canvas.dataset.hidden how many were left out.
function drawMarkers(canvas, ctx, markers, g) {
  const rowHeight = 12, rows = [], boxes = [], lines = [];
  const maxRows = Math.max(1, Math.floor((g.H - g.pad.t - g.pad.b) / rowHeight) - 1);
  let hidden = 0;
  ctx.font = "11px system-ui, sans-serif";
  const inside = markers.filter((m) => m.x >= g.x0 && m.x <= g.x1).sort((a, b) => a.x - b.x);
  for (const m of inside) {
    const x = g.px(m.x);
    ctx.strokeStyle = m.color; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(x, g.pad.t); ctx.lineTo(x, g.H - g.pad.b); ctx.stroke();
    lines.push({x, label: m.label});
    const w = ctx.measureText(m.label).width;
    const left = x + 3 + w > g.W - g.pad.r ? x - 3 - w : x + 3;
    let row = rows.findIndex((right) => right + 4 <= left);
    if (row < 0 && rows.length < maxRows) { row = rows.length; rows.push(-Infinity); }
    if (row < 0) { hidden++; continue; }
    rows[row] = left + w;
    const y = g.pad.t + 10 + row * rowHeight;
    ctx.fillStyle = m.color; ctx.fillText(m.label, left, y);
    boxes.push({x: left, y: y - 10, w, h: rowHeight - 1});
  }
  canvas.dataset.labels = JSON.stringify(boxes);
  canvas.dataset.hidden = String(hidden);
  canvas.markerLines = lines;
  if (!canvas.dataset.tooltip) {
    canvas.dataset.tooltip = "1";
    canvas.addEventListener("mousemove", (e) => {
      const scale = canvas.width / canvas.getBoundingClientRect().width;
      const x = (e.offsetX) * scale;
      const near = (canvas.markerLines || []).filter((l) => Math.abs(l.x - x) <= 4 * scale);
      canvas.title = near.map((l) => l.label).join("\n");
    });
  }
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
