// Minimal SVG charts (no library, nothing from a CDN). Every chart writes the number of
// data points it drew to data-points on its container, which the browser test reads.
"use strict";
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2",
                   "#eeca3b", "#9d755d", "#ff9da6", "#bab0ac"];
  const color = (i) => PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function frame(container, xs, ys) {
    container.innerHTML = "";
    const w = container.clientWidth || 600, h = container.clientHeight || 200, pad = 40;
    const svg = el("svg", { viewBox: `0 0 ${w} ${h}` }, container);
    const [x0, x1] = extent(xs), [y0, y1] = extent(ys);
    const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (w - 2 * pad);
    const sy = (y) => h - pad / 2 - ((y - y0) / (y1 - y0 || 1)) * (h - pad);
    el("line", { x1: pad, y1: h - pad / 2, x2: w - pad, y2: h - pad / 2, stroke: "#999" }, svg);
    el("line", { x1: pad, y1: pad / 2, x2: pad, y2: h - pad / 2, stroke: "#999" }, svg);
    label(svg, 2, pad / 2 + 4, fmt(y1));
    label(svg, 2, h - pad / 2, fmt(y0));
    return { svg, sx, sy, w, h };
  }

  function extent(values) {
    if (!values.length) return [0, 1];
    let lo = Math.min(...values), hi = Math.max(...values);
    if (lo === hi) { lo -= 0.5; hi += 0.5; }
    return [lo, hi];
  }
  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  function label(svg, x, y, text) {
    el("text", { x, y, "font-size": 10, fill: "#555" }, svg).textContent = text;
  }
  function empty(container, text) {
    container.innerHTML = `<p class="empty">${text}</p>`;
    container.dataset.points = "0";
  }

  // series: [{name, points: [[x, y, lo?, hi?], ...]}]; lo/hi draw a confidence band
  function line(container, series, opts = {}) {
    const all = series.flatMap((s) => s.points);
    if (!all.length) return empty(container, opts.empty || "no data yet");
    const ys = all.flatMap((p) => p.slice(1).filter((v) => v !== undefined && v !== null));
    const { svg, sx, sy } = frame(container, all.map((p) => p[0]), ys);
    series.forEach((s, i) => {
      const c = color(s.color ?? i);
      const banded = s.points.filter((p) => p[2] !== undefined && p[2] !== null);
      if (banded.length) {
        const top = banded.map((p) => `${sx(p[0])},${sy(p[3])}`);
        const bottom = banded.slice().reverse().map((p) => `${sx(p[0])},${sy(p[2])}`);
        el("polygon", { points: top.concat(bottom).join(" "), fill: c, opacity: 0.18,
                        class: "band" }, svg);
      }
      el("polyline", { points: s.points.map((p) => `${sx(p[0])},${sy(p[1])}`).join(" "),
                       fill: "none", stroke: c, "stroke-width": 2 }, svg);
      for (const p of s.points) el("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: c,
                                               class: "point" }, svg);
    });
    legend(container, series);
    container.dataset.points = String(all.length);
  }

  // bars: [{label, value}]
  function bars(container, data, opts = {}) {
    if (!data.length) return empty(container, opts.empty || "no data yet");
    const values = data.map((d) => d.value);
    const { svg, sy, w, h } = frame(container, [0, 1], [0, ...values]);
    const bw = (w - 80) / data.length;
    data.forEach((d, i) => {
      const x = 40 + i * bw + 2, y = sy(d.value);
      el("rect", { x, y, width: Math.max(1, bw - 4), height: Math.max(1, sy(0) - y),
                   fill: color(0), class: "point" }, svg);
      label(svg, x, h - 4, d.label);
    });
    container.dataset.points = String(data.length);
  }

  // points: [{x, y, group, title}]
  function scatter(container, points, opts = {}) {
    if (!points.length) return empty(container, opts.empty || "no data yet");
    const { svg, sx, sy } = frame(container, points.map((p) => p.x), points.map((p) => p.y));
    for (const p of points) {
      const dot = el("circle", { cx: sx(p.x), cy: sy(p.y), r: 3, fill: color(p.group),
                                 opacity: 0.75, class: "point" }, svg);
      el("title", {}, dot).textContent = p.title || "";
    }
    container.dataset.points = String(points.length);
  }

  function legend(container, series) {
    if (series.length < 2) return;
    const div = document.createElement("div");
    div.className = "legend";
    div.innerHTML = series.map((s, i) =>
      `<span style="color:${color(s.color ?? i)}">&#9632; ${s.name}</span>`).join("");
    container.appendChild(div);
  }

  return { line, bars, scatter, color };
})();
