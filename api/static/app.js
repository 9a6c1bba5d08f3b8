// The dashboard: run list, per-run charts from the REST api, live updates from the SSE stream.
"use strict";

const API = "/api/v1";
const SIGMAS = 8;
const PHASE_COLORS = {rise: "rgba(37,99,235,.10)", plateau: "rgba(22,163,74,.12)",
  collapse: "rgba(220,38,38,.12)"};
const view = {run: null, series: null, stride: "1", records: [], scalars: [], alerts: [],
  phases: [], stream: null, pending: false};

function token() { return localStorage.getItem("se-token") || ""; }

function headers() {
  return token() ? {Authorization: "Bearer " + token()} : {};
}

function say(text) { document.getElementById("status").textContent = text; }

async function getJSON(path, params) {
  const url = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined) url.searchParams.set(k, v);
  const response = await fetch(url, {headers: headers()});
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.status} ${body.error_code}: ${body.message}`);
  return body;
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

async function selectRun(runId, seriesKey, stride) {
  closeStream();
  view.run = runId;
  for (const tr of document.querySelectorAll("#runs tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.run === runId);
  }
  document.getElementById("run").hidden = false;
  document.getElementById("run-title").textContent = runId;
  const listed = (await getJSON(`/runs/${encodeURIComponent(runId)}/series`)).series;
  const select = document.getElementById("series");
  const pairs = [...new Map(listed.map((s) => [`${s.group}|${s.window}`, s])).values()];
  select.replaceChildren(...pairs.map((s) => new Option(`${s.group}  W=${s.window}`,
    `${s.group}|${s.window}`)));
  const strides = [...new Set(listed.map((s) => s.stride))].sort((a, b) => a - b);
  document.getElementById("stride").replaceChildren(...strides.map((s) => new Option(s, s)));
  view.stride = String(stride || (strides.includes(1) ? 1 : strides[0] || 1));
  document.getElementById("stride").value = view.stride;
  const wanted = seriesKey || (listed.find((s) => s.group === "all") || listed[0]);
  view.series = typeof wanted === "string" ? wanted : wanted && `${wanted.group}|${wanted.window}`;
  if (view.series) select.value = view.series;
  await loadRun();
  openStream();
}

// The query of the shown (group, W, stride) series.
function shown() {
  const [group, window] = view.series ? view.series.split("|") : ["all", "10"];
  return {group, window, stride: view.stride};
}

function inView(doc) {
  const {group, window, stride} = shown();
  return doc.group === group && String(doc.window) === window && String(doc.stride ?? 1) === stride;
}

async function loadRun() {
  const run = encodeURIComponent(view.run);
  const [metrics, scalars, alerts, phases] = await Promise.all([
    view.series ? getJSON(`/runs/${run}/metrics`, shown()) : {records: []},
    getJSON(`/runs/${run}/scalars`),
    getJSON(`/runs/${run}/alerts`, {max_results: 1000}),
    getJSON(`/runs/${run}/phases`, shown()),
  ]);
  view.records = metrics.records; view.scalars = scalars.points;
  view.alerts = alerts.alerts.reverse(); view.phases = phases.phases;
  render();
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
  const scalar = (name) => view.scalars.filter((p) => name in p.values)
    .map((p) => [p.step, p.values[name]]);
  drawChart(document.getElementById("chart-validation"), {series: [
    {name: "val_loss", points: scalar("val_loss")},
    {name: "val_acc", points: scalar("val_acc"), color: "#16a34a"},
  ], logY: true});
  document.getElementById("alerts").replaceChildren(...view.alerts.slice(-50).reverse().map((a) => {
    const li = document.createElement("li");
    const s = (a.stride ?? 1) === 1 ? "" : `, stride=${a.stride}`;
    li.textContent = `step ${a.step} ${a.type} (${a.group}, W=${a.window}${s}): ${a.message}`;
    return li;
  }));
}

function schedule() {
  if (!view.pending) { view.pending = true; requestAnimationFrame(render); }
}

function onEvent(name, data) {
  const doc = JSON.parse(data);
  if (name === "metric" && inView(doc)) {
    view.records.push(doc);
  } else if (name === "scalars") {
    view.scalars.push(doc);
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
  document.getElementById("series").addEventListener("change", (e) =>
    selectRun(view.run, e.target.value, view.stride));
  document.getElementById("stride").addEventListener("change", (e) =>
    selectRun(view.run, view.series, e.target.value));
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
