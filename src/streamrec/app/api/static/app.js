// The dashboard: four views over the API's /v1 endpoints, refreshed every 2 s.
"use strict";
const params = new URLSearchParams(location.search);
if (params.get("key")) localStorage.setItem("streamrecApiKey", params.get("key"));
const REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

async function api(path) {
  const key = localStorage.getItem("streamrecApiKey");
  const response = await fetch(path, { headers: key ? { "X-API-Key": key } : {} });
  if (response.status === 401) throw new Error("API key needed: open /?key=YOUR_KEY");
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

const seconds = (series) => (series.length ? series[0].t : 0);

async function overview() {
  const d = await api("/v1/dashboard/overview");
  const last = d.series[d.series.length - 1] || {};
  $("t-rate").textContent = (last.events_per_s ?? 0).toFixed(1);
  $("t-processed").textContent = d.processed;
  $("t-lag").textContent = d.lag_total;
  $("t-fresh").textContent = d.freshness_s === null ? "–" : d.freshness_s.toFixed(1);
  $("t-dead").textContent = d.dead_letters;
  const t0 = seconds(d.series);
  Charts.line($("c-rate"), [{ name: "events/s",
    points: d.series.map((s) => [s.t - t0, s.events_per_s ?? 0]) }]);
  Charts.bars($("c-lag"), d.lag.map((p) => ({ label: `${p.topic.split(".").pop()}/${p.partition}`,
                                              value: p.lag })), { empty: "no partitions yet" });
  Charts.line($("c-fresh"), [{ name: "freshness s",
    points: d.series.filter((s) => s.freshness_s !== null).map((s) => [s.t - t0, s.freshness_s]) }]);
}

async function clusters() {
  const d = await api("/v1/dashboard/clusters");
  const labels = Object.fromEntries(d.clusters.map((c) => [c.cluster_id, c.labels.join(", ")]));
  Charts.scatter($("c-map"), d.map.map((p) => ({ x: p.x, y: p.y, group: p.cluster,
    title: `${p.user_id}: cluster ${p.cluster} (${labels[p.cluster] || ""})` })),
    { empty: "no worker checkpoint yet" });
  const t0 = seconds(d.sizes);
  const ids = [...new Set(d.sizes.flatMap((s) => Object.keys(s.sizes)))];
  Charts.line($("c-sizes"), ids.map((id) => ({ name: `#${id}`, color: Number(id),
    points: d.sizes.filter((s) => id in s.sizes).map((s) => [s.t - t0, s.sizes[id]]) })));
  $("cluster-table").innerHTML = "<tr><th>id</th><th>labels</th><th>users</th><th>weight</th>" +
    "<th>representative items</th></tr>" + d.clusters.map((c) =>
      `<tr><td style="color:${Charts.color(c.cluster_id)}">&#9632; ${c.cluster_id}</td>` +
      `<td>${esc(c.labels.join(", "))}</td><td>${c.users}</td><td>${c.weight}</td>` +
      `<td>${esc(c.representative_items.join(", "))}</td></tr>`).join("");
  $("lifecycle-table").innerHTML = "<tr><th>step</th><th>kind</th><th>cluster</th>" +
    "<th>related</th><th>reason</th></tr>" + (d.lifecycle.slice(-30).reverse().map((e) =>
      `<tr><td>${e.step}</td><td>${esc(e.kind)}</td><td>${e.cluster_id}</td>` +
      `<td>${esc((e.related || []).join(", "))}</td><td>${esc(e.reason)}</td></tr>`).join("") ||
      '<tr><td colspan="5" class="empty">no lifecycle events yet</td></tr>');
}

// rolling: {arm: [{t, ctr, ctr_ci, "ndcg@10", "ndcg@10_ci"}]} of one experiment
function armSeries(rolling, t0, metric, ciKey) {
  return Object.entries(rolling || {}).map(([arm, points]) => ({ name: arm,
    points: points.map((p) => [p.t - t0, p[metric], p[ciKey][0], p[ciKey][1]]) }));
}

async function strategies() {
  const d = await api("/v1/dashboard/strategies");
  const holder = $("experiment-charts");
  const names = Object.keys(d.experiments);
  if (!names.length) {
    holder.innerHTML = '<p class="empty">no impressions scored yet (is the sidecar running?)</p>';
  }
  for (const name of names) {
    let box = document.getElementById(`exp-${name}`);
    if (!box) {
      box = document.createElement("div");
      box.id = `exp-${name}`;
      box.innerHTML = `<h3>${esc(name)}: NDCG@10</h3><div class="chart ndcg"></div>` +
        `<h3>${esc(name)}: CTR</h3><div class="chart ctr"></div><table class="verdicts"></table>`;
      holder.appendChild(box);
    }
    const t0 = Math.min(...Object.values(d.rolling).flatMap((arms) =>
      Object.values(arms).flatMap((points) => points.map((p) => p.t))));
    Charts.line(box.querySelector(".ndcg"),
      armSeries(d.rolling[name], t0, "ndcg@10", "ndcg@10_ci"));
    Charts.line(box.querySelector(".ctr"), armSeries(d.rolling[name], t0, "ctr", "ctr_ci"));
    box.querySelector(".verdicts").innerHTML = "<tr><th>arm vs control</th><th>p CTR</th>" +
      "<th>p NDCG@10</th><th>verdict</th></tr>" + d.experiments[name].comparisons.map((c) =>
        `<tr><td>${esc(c.arm)} vs ${esc(c.control)}</td><td>${c.p_ctr.toPrecision(3)}</td>` +
        `<td>${c["p_ndcg@10"].toPrecision(3)}</td><td>${esc(c.verdict)}</td></tr>`).join("");
  }
  const rows = Object.entries(d.metrics);
  $("rolling-table").innerHTML = rows.length ? "<tr><th>strategy</th><th>metrics</th></tr>" +
    rows.map(([s, m]) => `<tr><td>${esc(s)}</td><td>${Object.entries(m).filter(([k]) =>
      /^(ndcg@10|hit@10|ctr)/.test(k)).map(([k, v]) => `${esc(k)}=${v.toFixed(4)}`).join(" · ")}` +
      "</td></tr>").join("") : '<tr><td class="empty">no rolling metrics yet</td></tr>';
}

// why: {feature: contribution} when the worker explains its lists (absent otherwise)
function why(item) {
  if (!item.why || typeof item.why !== "object") return "";
  const entries = Object.entries(item.why).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const top = Math.max(...entries.map(([, v]) => Math.abs(v)), 1e-9);
  // bar length: share of the largest contribution; red when it lowers the score
  return entries.map(([k, v]) => `<span><i style="width:${(40 * Math.abs(v)) / top}px;` +
    `background:${v < 0 ? "#e45756" : "#4c78a8"}"></i>` +
    `${esc(k)} ${Number(v).toFixed(3)}</span>`).join("");
}

async function user() {
  const id = $("user-id").value.trim();
  if (!id) return;
  const d = await api(`/v1/users/${encodeURIComponent(id)}`);
  const hasWhy = d.items.some((i) => i.why);
  const cluster = d.cluster ? `cluster <b>${d.cluster.cluster_id}</b> ` +
    `(similarity ${d.assignment.similarity.toFixed(3)}): ${esc(d.cluster.labels.join(", "))}` :
    "no cluster yet";
  $("user-result").innerHTML =
    `<p id="user-level">level <b>${esc(d.level)}</b> · strategy ${esc(d.strategy)} · ` +
    `nearest ${cluster}</p><table id="user-items"><tr><th>#</th><th>item</th><th>score</th>` +
    (hasWhy ? "<th>why</th>" : "") + "</tr>" + d.items.map((item, n) =>
      `<tr class="rec"><td>${n + 1}</td><td>${esc(item.item_id)}</td>` +
      `<td>${item.score.toFixed(4)}</td>` + (hasWhy ? `<td class="why">${why(item)}</td>` : "") +
      "</tr>").join("") + "</table><h3>Items similar to what they reviewed</h3>" +
    '<table id="user-similar"><tr><th>reviewed</th><th>similar items (cosine)</th></tr>' +
    d.reviewed.map((r) => `<tr><td>${esc(r.item_id)}</td><td>${r.similar.map((s) =>
      `${esc(s.item_id)} (${s.similarity.toFixed(2)})`).join(", ")}</td></tr>`).join("") +
    "</table>";
  $("user-result").dataset.points = String(d.items.length);
  $("user-result").dataset.user = d.user_id;
}

const VIEWS = { overview, clusters, strategies, user };
let current = null;

async function refresh() {
  if (!current) return;
  try {
    await VIEWS[current]();
    $("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    $("status").textContent = error.message;
  }
}

function show() {
  const [name, arg] = (location.hash.slice(1) || "overview").split("/");
  current = name in VIEWS ? name : "overview";
  if (current === "user" && arg) $("user-id").value = decodeURIComponent(arg);
  for (const view of document.querySelectorAll(".view")) {
    view.classList.toggle("active", view.id === current);
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === current);
  }
  refresh();
}

$("user-form").addEventListener("submit", (event) => {
  event.preventDefault();
  location.hash = `user/${encodeURIComponent($("user-id").value.trim())}`;
});
window.addEventListener("hashchange", show);
setInterval(() => { if (current !== "user") refresh(); }, REFRESH_MS);
show();
