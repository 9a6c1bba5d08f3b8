// The dashboard: run list, per-run charts from the REST api, live updates from the SSE stream.
"use strict";

const API = "/api/v1";
const SIGMAS = 8;
const PHASE_COLORS = {rise: "rgba(37,99,235,.10)", plateau: "rgba(22,163,74,.12)",
  collapse: "rgba(220,38,38,.12)"};
const view = {run: null, group: "all", window: "10", stride: "1", records: [], scalars: [],
  alerts: [], phases: [], chosen: [], stream: null, pending: false};
const picked = new Set();

function token() { return localStorage.getItem("se-token") || ""; }

function headers() {
  return token() ? {Authorization: "Bearer " + token()} : {};
}

function say(text) { document.getElementById("status").textContent = text; }

async function getJSON(path, params) {
  const response = await fetch(apiURL(path, params), {headers: headers()});
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.status} ${body.error_code}: ${body.message}`);
  return body;
}

function apiURL(path, params) {
  const url = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined) url.searchParams.set(k, v);
  return url;
}

function save(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = name;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function downloadCSV() {
  const response = await fetch(apiURL(`/runs/${encodeURIComponent(view.run)}/metrics`,
    {...shown(), format: "csv"}), {headers: headers()});
  if (!response.ok) { say(`CSV: ${response.status}`); return; }
  const named = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
  save(await response.blob(), named ? named[1] : "metrics.csv");
}

function downloadPNG(chartId) {
  const canvas = document.getElementById(chartId);
  canvas.toBlob((blob) => save(blob, `${view.run || "runs"}-${chartId.slice(6)}.png`), "image/png");
}

async function loadRuns() {
  const runs = [];
  let page;
  do {
    const body = await getJSON("/runs", {max_results: 200, page_token: page});
    runs.push(...body.runs); page = body.next_page_token;
  } while (page && runs.length < 2000);
  const tbody = document.querySelector("#runs tbody");
  tbody.replaceChildren(...runs.map((run) => {
    const tr = document.createElement("tr");
    tr.dataset.run = run.run_id;
    const pick = document.createElement("td");
    const box = document.createElement("input");
    box.type = "checkbox"; box.className = "pick"; box.title = "compare";
    box.addEventListener("click", (e) => e.stopPropagation());
    box.addEventListener("change", () => {
      if (box.checked) picked.add(run.run_id); else picked.delete(run.run_id);
      document.getElementById("compare-button").disabled = picked.size < 2;
    });
    pick.className = "pick"; pick.append(box); tr.append(pick);
    for (const [text, cls] of [[run.run_id], [run.project], [run.state, "state-" + run.state]]) {
      const td = document.createElement("td");
      td.textContent = text; td.title = text; if (cls) td.className = cls;
      tr.append(td);
    }
    tr.addEventListener("click", () => selectRun(run.run_id));
    return tr;
  }));
  say(`${runs.length} runs`);
  return runs;
}

async function selectRun(runId, wanted) {
  closeStream();
  view.run = runId;
  for (const tr of document.querySelectorAll("#runs tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.run === runId);
  }
  document.getElementById("run").hidden = false;
  document.getElementById("run-title").textContent = runId;
  const listed = (await getJSON(`/runs/${encodeURIComponent(runId)}/series`)).series;
  const groups = [...new Set(listed.map((s) => s.group))];
  const group = wanted?.group ?? (groups.includes("all") ? "all" : groups[0] || "all");
  const ofGroup = listed.filter((s) => s.group === group);
  const windows = [...new Set(ofGroup.map((s) => String(s.window)))].sort((a, b) => a - b);
  const window = windows.includes(wanted?.window) ? wanted.window : windows[0] || "10";
  const strides = [...new Set(ofGroup.filter((s) => String(s.window) === window)
    .map((s) => String(s.stride)))].sort((a, b) => a - b);
  const stride = strides.includes(wanted?.stride) ? wanted.stride
    : (strides.includes("1") ? "1" : strides[0] || "1");
  Object.assign(view, {group, window, stride});
  fill("group", groups, group); fill("window", windows, window); fill("stride", strides, stride);
  await loadRun();
  openStream();
}

function fill(id, values, chosen) {
  const select = document.getElementById(id);
  select.replaceChildren(...values.map((v) => new Option(v, v)));
  select.value = chosen;
}

// The query of the shown (group, W, stride) series.
function shown() {
  return {group: view.group, window: view.window, stride: view.stride};
}

function inView(doc) {
  return doc.group === view.group && String(doc.window) === view.window
    && String(doc.stride ?? 1) === view.stride;
}

async function loadRun() {
  const run = encodeURIComponent(view.run);
  const [metrics, scalars, alerts, phases] = await Promise.all([
    getJSON(`/runs/${run}/metrics`, shown()),
    getJSON(`/runs/${run}/scalars`),
    getJSON(`/runs/${run}/alerts`, {max_results: 1000}),
    getJSON(`/runs/${run}/phases`, shown()),
  ]);
  view.records = metrics.records; view.scalars = scalars.points;
  view.alerts = alerts.alerts.reverse(); view.phases = phases.phases;
  chooseScalars();
  render();
}

function scalarNames(points) {
  const names = new Set();
  for (const p of points) for (const name of Object.keys(p.values)) names.add(name);
  return [...names];
}

// The scalars charted: the user's ticks, else losses and accuracies, else the first two logged.
function chooseScalars() {
  const names = scalarNames(view.scalars);
  let chosen = view.chosen.filter((n) => names.includes(n));
  if (!chosen.length) {
    chosen = names.filter((n) => /loss|acc/.test(n)).slice(0, 4);
    if (!chosen.length) chosen = names.slice(0, 2);
  }
  view.chosen = chosen;
  document.getElementById("scalar-names").replaceChildren(...names.map((name) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox"; box.value = name; box.checked = chosen.includes(name);
    box.addEventListener("change", () => {
      view.chosen = [...document.querySelectorAll("#scalar-names input:checked")]
        .map((b) => b.value);
      schedule();
    });
    label.append(box, " " + name);
    return label;
  }));
}

function lastStep() {
  const steps = view.records.map((r) => r.step).concat(view.scalars.map((p) => p.step));
  return steps.length ? Math.max(...steps) : undefined;
}

function render() {
  view.pending = false;
  const recs = view.records;
  const sigmas = [];
  for (let i = 0; i < SIGMAS; i++) {
    const points = recs.filter((r) => r.sigma.length > i).map((r) => [r.step, r.sigma[i]]);
    if (points.length) sigmas.push({name: `sigma_${i + 1}`, points});
  }
  drawChart(document.getElementById("chart-spectrum"), {series: sigmas, logY: true});
  const mine = view.alerts.filter(inView);
  drawChart(document.getElementById("chart-edge"), {
    series: [{name: "R = sigma_k* / sigma_k*+1", points: recs.map((r) => [r.step, r.edge_ratio])}],
    shades: view.phases.map((p) => ({x0: p.start_step, x1: p.end_step ?? undefined,
      color: PHASE_COLORS[p.kind] || "rgba(75,85,99,.1)", label: p.kind})),
    markers: mine.map((a) => ({x: a.step, color: "#b91c1c", label: a.type})),
  });
  drawChart(document.getElementById("chart-kstar"), {series: [
    {name: "k* argmax", points: recs.map((r) => [r.step, r.k_star.argmax])},
    {name: "k* weighted", points: recs.map((r) => [r.step, r.k_star.weighted]), dash: [4, 3]},
    {name: "k* floor", points: recs.map((r) => [r.step, r.k_star.floor]), dash: [1, 3]},
  ]});
  drawChart(document.getElementById("chart-scalars"), {
    series: view.chosen.map((name) => ({name, points: scalarPoints(view.scalars, name)})),
    logY: document.getElementById("scalar-log").checked,
  });
  document.getElementById("alerts").replaceChildren(...view.alerts.slice(-50).reverse().map((a) => {
    const li = document.createElement("li");
    const s = (a.stride ?? 1) === 1 ? "" : `, stride=${a.stride}`;
    li.textContent = `step ${a.step} ${a.type} (${a.group}, W=${a.window}${s}): ${a.message}`;
    return li;
  }));
}

function scalarPoints(points, name) {
  return points.filter((p) => name in p.values).map((p) => [p.step, p.values[name]]);
}

function schedule() {
  if (!view.pending) { view.pending = true; requestAnimationFrame(render); }
}

function onEvent(name, data) {
  const doc = JSON.parse(data);
  if (name === "metric" && inView(doc)) {
    view.records.push(doc);
  } else if (name === "scalars") {
    const known = scalarNames(view.scalars).length;
    view.scalars.push(doc);
    if (scalarNames(view.scalars).length !== known) chooseScalars();
  } else if (name === "alert" || name === "phase") {
    if (!view.alerts.some((a) => a.id === doc.id)) view.alerts.push(doc);
    if (name === "phase") { loadPhases(); return; }
  } else if (name === "state") {
    say(`${view.run}: ${doc.state}`);
  }
  schedule();
}

async function loadPhases() {
  view.phases = (await getJSON(`/runs/${encodeURIComponent(view.run)}/phases`, shown())).phases;
  schedule();
}

function closeStream() {
  if (view.stream) view.stream.abort();
  view.stream = null;
  document.getElementById("live").classList.remove("on");
}

// Server-Sent Events over fetch, so the bearer token travels in a header, not in the URL.
async function openStream() {
  const controller = new AbortController();
  view.stream = controller;
  const url = new URL(`${API}/runs/${encodeURIComponent(view.run)}/events`, location.origin);
  const since = lastStep();
  if (since !== undefined) url.searchParams.set("since_step", since);
  try {
    const response = await fetch(url, {headers: headers(), signal: controller.signal});
    if (!response.ok) throw new Error(`live stream: ${response.status}`);
    document.getElementById("live").classList.add("on");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, cut)); buffer = buffer.slice(cut + 2);
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") say(String(error));
  }
  document.getElementById("live").classList.remove("on");
}

function dispatch(block) {
  let name = "message"; const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length) onEvent(name, data.join("\n"));
}

// The ticked runs overlaid by step: their edge ratio (the shown group, W, stride) and one scalar.
async function compare() {
  const runs = [...picked];
  const query = view.run ? shown() : {group: "all", window: "10", stride: "1"};
  const loaded = await Promise.all(runs.map(async (run) => {
    const id = encodeURIComponent(run);
    const [metrics, scalars] = await Promise.all([
      getJSON(`/runs/${id}/metrics`, query).catch(() => ({records: []})),
      getJSON(`/runs/${id}/scalars`).catch(() => ({points: []})),
    ]);
    return {run, records: metrics.records, scalars: scalars.points};
  }));
  view.compared = loaded;
  const names = [...new Set(loaded.flatMap((r) => scalarNames(r.scalars)))];
  const select = document.getElementById("compare-scalar");
  const keep = names.includes(select.value) ? select.value
    : names.find((n) => /loss/.test(n)) || names[0] || "";
  fill("compare-scalar", names, keep);
  document.getElementById("compare").hidden = false;
  drawComparison();
}

function drawComparison() {
  const name = document.getElementById("compare-scalar").value;
  const runs = view.compared || [];
  drawChart(document.getElementById("chart-compare-edge"), {series: runs.map((r) =>
    ({name: r.run, points: r.records.map((rec) => [rec.step, rec.edge_ratio])}))});
  document.getElementById("compare-scalar-caption").firstChild.textContent = `${name} by step `;
  drawChart(document.getElementById("chart-compare-scalar"), {series: runs.map((r) =>
    ({name: r.run, points: scalarPoints(r.scalars, name)}))});
}

async function start() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) localStorage.setItem("se-token", hash.get("token"));
  history.replaceState(null, "", location.pathname + location.search);
  document.getElementById("token").value = token();
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem("se-token", document.getElementById("token").value.trim());
    location.reload();
  });
  for (const id of ["group", "window", "stride"]) {
    document.getElementById(id).addEventListener("change", (e) =>
      selectRun(view.run, {...shown(), [id]: e.target.value}));
  }
  document.getElementById("scalar-log").addEventListener("change", schedule);
  document.getElementById("csv").addEventListener("click", downloadCSV);
  for (const button of document.querySelectorAll("[data-png]")) {
    button.addEventListener("click", () => downloadPNG(button.dataset.png));
  }
  document.getElementById("compare-button").addEventListener("click", () =>
    compare().catch((error) => say(String(error))));
  document.getElementById("compare-scalar").addEventListener("change", drawComparison);
  document.getElementById("compare-close").addEventListener("click", () => {
    document.getElementById("compare").hidden = true;
  });
  try {
    const runs = await loadRuns();
    const wanted = new URLSearchParams(location.search).get("run") || (runs[0] && runs[0].run_id);
    if (wanted) await selectRun(wanted);
    document.body.dataset.ready = "1";
  } catch (error) {
    say(String(error));
  }
}

start();
