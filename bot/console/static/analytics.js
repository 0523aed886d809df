// Tandem analytics dashboard: plain JS and SVG over the console's JSON API (bot/console/analytics.py).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const KPIS = [ // [key, label, kind]
  ["conversations", "Conversations", "count"], ["containment_rate", "Containment", "rate"],
  ["escalation_rate", "Escalation", "rate"], ["abandonment_rate", "Abandonment", "rate"],
  ["fallback_rate", "Not understood", "rate"], ["avg_turns", "Avg turns", "number"],
  ["avg_duration_s", "Avg duration", "seconds"], ["avg_time_to_escalation_s", "Time to escalation", "seconds"],
  ["improved_share", "Ended happier", "rate"], ["nps", "NPS estimate", "number"],
  ["csat", "CSAT", "rate"], ["csat_responses", "CSAT responses", "count"],
];
let shownDays = []; // the daily series on screen, for the metric picker
const LINES = [["containment_rate", "containment", "#1f8a4c"], ["escalation_rate", "escalation", "#d9822b"],
               ["abandonment_rate", "abandonment", "#c23934"]];

function format(value, kind) {
  if (value === null || value === undefined) return "–";
  if (kind === "rate") return (100 * value).toFixed(1) + " %";
  if (kind === "count") return Math.round(value).toLocaleString("en");
  if (kind === "seconds") {
    const s = Math.round(value);
    return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
  }
  return value.toFixed(1);
}

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "on") Object.entries(value).forEach(([event, fn]) => node.addEventListener(event, fn));
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function query() {
  const form = new FormData(document.getElementById("scope"));
  const params = new URLSearchParams();
  for (const [key, value] of form) if (value) params.set(key, value);
  return params.toString();
}

async function getJSON(url) {
  const answer = await fetch(url);
  if (answer.status === 401) {  // the dashboard is for the team: sign in, then come back
    location.assign("/login?next=/analytics");
    throw new Error("sign in first");
  }
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.error || answer.statusText);
  return body;
}

async function load() {
  const status = document.getElementById("status");
  status.className = "";
  status.textContent = "loading…";
  const started = performance.now();
  try {
    const scope = query();
    const [summary, proc] = await Promise.all([getJSON("/api/analytics/summary?" + scope),
                                               getJSON("/api/analytics/process?" + scope)]);
    renderChannels(summary.channels);
    renderKpis(summary.kpis.totals);
    renderTrend(summary.kpis.daily);
    renderMetric(summary.kpis.daily);
    renderReasons(summary.escalation_reasons);
    renderIntents(summary.intents);
    renderGraph(proc.graph, proc.bottlenecks);
    renderBottlenecks(proc.bottlenecks);
    renderLoops(proc.loops);
    status.textContent = `${format(summary.kpis.totals.conversations, "count")} conversations · ` +
                         `loaded in ${Math.round(performance.now() - started)} ms`;
    document.body.dataset.loaded = "true";
  } catch (error) {
    status.className = "error";
    status.textContent = error.message;
  }
}

function renderChannels(channels) {
  const select = document.querySelector("select[name=channel]");
  const chosen = select.value;
  select.replaceChildren(el("option", {value: ""}, "all"), ...channels.map(c => el("option", {value: c}, c)));
  select.value = chosen;
}

function renderKpis(totals) {
  document.getElementById("kpis").replaceChildren(...KPIS.map(([key, label, kind]) =>
    el("div", {class: "tile", "data-kpi": key},
       el("span", {class: "label"}, label), el("span", {class: "value"}, format(totals[key], kind)))));
}

// A chart of daily values: bars on the left axis, lines (0–1 rates unless `scale` says) on the right.
function chart(days, bars, lines, scale = 1) {
  const width = 720, height = 200, left = 40, right = 44, top = 10, bottom = 24;
  const plotW = width - left - right, plotH = height - top - bottom;
  const svg = el("svg:svg", {viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img"});
  const step = plotW / Math.max(days.length, 1);
  const x = i => left + step * (i + 0.5);
  svg.append(el("svg:line", {class: "axis", x1: left, x2: width - right, y1: top + plotH, y2: top + plotH}));
  if (bars) {
    const most = Math.max(1, ...days.map(d => d[bars] || 0));
    days.forEach((d, i) => {
      const h = plotH * (d[bars] || 0) / most;
      svg.append(el("svg:rect", {x: x(i) - step * 0.35, width: step * 0.7, y: top + plotH - h, height: h, fill: "#c9d8ee"},
                    el("svg:title", {}, `${d.day}: ${d[bars]} conversations`)));
    });
    svg.append(el("svg:text", {x: 4, y: top + 10}, format(most, "count")));
  }
  const finite = lines.flatMap(([key]) => days.map(d => d[key])).filter(v => v !== null && v !== undefined);
  const low = scale === 1 ? 0 : Math.min(0, ...finite), high = scale === 1 ? 1 : Math.max(1, ...finite);
  const y = v => top + plotH * (1 - (v - low) / ((high - low) || 1));
  for (const [key, label, color] of lines) {
    let path = "";
    days.forEach((d, i) => {
      if (d[key] === null || d[key] === undefined) return;
      path += (path ? "L" : "M") + x(i).toFixed(1) + "," + y(d[key]).toFixed(1);
      svg.append(el("svg:circle", {cx: x(i), cy: y(d[key]), r: 2.5, fill: color},
                    el("svg:title", {}, `${d.day}: ${label} ${format(d[key], scale === 1 ? "rate" : "number")}`)));
    });
    if (path) svg.append(el("svg:path", {d: path, fill: "none", stroke: color, "stroke-width": 2}));
  }
  if (lines.length) {
    svg.append(el("svg:text", {x: width - right + 4, y: top + 10}, scale === 1 ? "100 %" : format(high, "number")));
    svg.append(el("svg:text", {x: width - right + 4, y: top + plotH}, scale === 1 ? "0 %" : format(low, "number")));
  }
  const every = Math.ceil(days.length / 8);
  days.forEach((d, i) => { if (i % every === 0) svg.append(el("svg:text", {x: x(i) - 18, y: height - 6}, d.day.slice(5))); });
  return svg;
}

function renderTrend(days) {
  const legend = el("div", {class: "legend"}, el("span", {}, el("i", {style: "background:#c9d8ee"}), "conversations"),
                    ...LINES.map(([, label, color]) => el("span", {}, el("i", {style: `background:${color}`}), label)));
  document.getElementById("trend").replaceChildren(chart(days, "conversations", LINES), legend);
}

function renderMetric(days) {
  const select = document.getElementById("metric");
  if (!select.options.length) {
    KPIS.filter(([key]) => key !== "conversations").forEach(([key, label]) => select.append(el("option", {value: key}, label)));
    select.value = "nps";
    select.addEventListener("change", () => renderMetric(shownDays));
  }
  shownDays = days;
  const [key, label, kind] = KPIS.find(([k]) => k === select.value);
  document.getElementById("trend-metric").replaceChildren(chart(days, null, [[key, label, "#2b6cb0"]], kind === "rate" ? 1 : 0));
}

function renderReasons(reasons) {
  const most = Math.max(1, ...reasons.map(r => r.conversations));
  document.getElementById("reasons").replaceChildren(...(reasons.length ? reasons.map(r =>
    el("div", {"data-reason": r.reason},
       el("div", {}, r.reason.replaceAll("_", " "), " ", el("span", {class: "muted"}, `${r.conversations} · ${format(r.rate, "rate")}`)),
       el("span", {class: "bar", style: `width:${100 * r.conversations / most}%`}))) : [el("p", {class: "muted"}, "No escalations.")]));
}

function renderIntents(intents) {
  document.querySelector("#intents tbody").replaceChildren(...intents.map(i => el("tr", {},
    el("td", {}, i.intent), el("td", {class: "n"}, format(i.messages, "count")), el("td", {class: "n"}, format(i.conversations, "count")),
    el("td", {class: "n"}, format(i.containment_rate, "rate")), el("td", {class: "n"}, format(i.escalation_rate, "rate")),
    el("td", {class: "n"}, format(i.abandonment_rate, "rate")))));
}

// The directly-follows graph, in columns by the shortest path from the start; wider edges are more frequent.
function renderGraph(graph, bottlenecks) {
  const nodes = new Map(graph.nodes.map(n => [n.step, n]));
  const out = new Map();
  for (const e of graph.edges) (out.get(e.source) || out.set(e.source, []).get(e.source)).push(e);
  const layer = new Map([["(start)", 0]]), queue = ["(start)"];
  while (queue.length) {
    const step = queue.shift();
    for (const e of out.get(step) || []) if (!layer.has(e.target) && nodes.get(e.target).kind !== "end") {
      layer.set(e.target, layer.get(step) + 1);
      queue.push(e.target);
    }
  }
  const depth = Math.max(0, ...layer.values()) + 1;
  for (const n of graph.nodes) if (n.kind === "end") layer.set(n.step, depth);
  const columns = [];
  for (const n of graph.nodes) if (layer.has(n.step)) (columns[layer.get(n.step)] ||= []).push(n);
  const boxW = 150, boxH = 34, gapX = 60, gapY = 14, pos = new Map();
  columns.forEach((column, c) => column.forEach((n, r) => pos.set(n.step, {x: 10 + c * (boxW + gapX), y: 10 + r * (boxH + gapY)})));
  const width = 20 + columns.length * (boxW + gapX), height = 20 + Math.max(...columns.map(c => c.length)) * (boxH + gapY);
  const svg = el("svg:svg", {width, height, viewBox: `0 0 ${width} ${height}`, id: "process-graph"});
  const most = Math.max(1, ...graph.edges.map(e => e.count));
  const rank = new Map(bottlenecks.slice(0, 5).map((b, i) => [b.step, i + 1]));
  for (const e of graph.edges) {
    const a = pos.get(e.source), b = pos.get(e.target);
    if (!a || !b) continue;
    const forward = b.x > a.x;
    const x1 = a.x + (forward ? boxW : boxW / 2), y1 = a.y + (forward ? boxH / 2 : boxH);
    const x2 = b.x + (forward ? 0 : boxW / 2), y2 = b.y + (forward ? boxH / 2 : boxH);
    const bend = forward ? (x2 - x1) / 2 : 40;
    const d = forward ? `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`
                      : `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 + bend} ${x2},${y2}`;
    svg.append(el("svg:path", {d, fill: "none", stroke: forward ? "#9fb3c8" : "#d9a3a0", opacity: 0.8,
                               "stroke-width": 1 + 7 * Math.sqrt(e.count / most)},
                  el("svg:title", {}, `${e.source} → ${e.target}: ${e.count}`)));
  }
  for (const [step, p] of pos) {
    const n = nodes.get(step);
    const lost = n.loss_rate || 0;
    const fill = n.kind === "end" ? "#eef1f5" : `rgb(255,${Math.round(255 - 150 * Math.min(lost, 1))},${Math.round(255 - 150 * Math.min(lost, 1))})`;
    const g = el("svg:g", {class: "node", "data-step": step});
    g.append(el("svg:rect", {x: p.x, y: p.y, width: boxW, height: boxH, rx: 5, fill,
                             stroke: rank.has(step) ? "#c23934" : "#8a99ab", "stroke-width": rank.has(step) ? 3 : 1}),
             el("svg:text", {x: p.x + 6, y: p.y + 14}, (n.kind === "user" ? "▸ " : "") + (step.length > 22 ? step.slice(0, 21) + "…" : step)),
             el("svg:text", {x: p.x + 6, y: p.y + 28, class: "muted"},
                `${format(n.conversations, "count")} conv` + (n.kind === "end" ? "" : ` · lost ${format(lost, "rate")}`)),
             el("svg:title", {}, `${step}: ${n.conversations} conversations, escalated after ${n.escalated_after}, ` +
                                 `abandoned after ${n.abandoned_after}, not understood next ${n.fallback_after}`));
    if (rank.has(step)) g.append(el("svg:text", {x: p.x + boxW - 16, y: p.y + 14, fill: "#c23934"}, "#" + rank.get(step)));
    svg.append(g);
  }
  document.getElementById("graph").replaceChildren(svg);
}

function conversationLink(id) {
  return el("button", {type: "button", class: "link", "data-conversation": id, on: {click: () => showConversation(id)}}, id);
}

function renderBottlenecks(bottlenecks) {
  document.getElementById("bottlenecks").replaceChildren(...bottlenecks.map(b => el("li", {"data-step": b.step},
    el("strong", {}, b.step), ` — ${format(b.lost, "count")} of ${format(b.conversations, "count")} conversations lost ` +
    `(${format(b.loss_rate, "rate")}): ${b.escalated_after} escalated, ${b.abandoned_after} abandoned, ` +
    `${b.fallback_after} not understood next. Examples:`, ...b.examples.map(conversationLink))));
}

function renderLoops(loops) {
  document.getElementById("loops").replaceChildren(...(loops.length ? loops.map(l => el("li", {},
    l.loop.join(" → "), el("span", {class: "muted"}, ` ${l.conversations} conv, up to ${l.max_repeats}× `), conversationLink(l.example)))
    : [el("li", {class: "muted"}, "No loops.")]));
}

async function showConversation(id) {
  const c = await getJSON("/api/analytics/conversations/" + id);
  document.getElementById("conversation").hidden = false;
  document.getElementById("conversation-id").textContent = `#${c.id}`;
  document.getElementById("conversation-facts").textContent =
    `${c.sender} on ${c.channel}, ${c.started_at.replace("T", " ")} UTC, ${c.turns} turns, ${c.outcome}` +
    (c.escalation_reason ? ` (${c.escalation_reason})` : "") + (c.emotion_start ? `, mood ${c.emotion_start} → ${c.emotion_end}` : "") +
    (c.csat ? `, CSAT ${c.csat}/5` : "");
  document.getElementById("transcript").replaceChildren(...c.transcript.map(t => el("li", {},
    el("div", {class: "customer"}, t.text, el("div", {class: "meta"}, `${t.intent || "?"} · ${t.emotion || "no emotion"}` +
                                                (t.fallback ? " · not understood" : "") + (t.decision && t.decision !== "none" ? ` · ${t.decision}` : ""))),
    t.answer ? el("div", {class: "bot"}, t.answer) : el("div", {class: "meta"}, t.actions))));
  document.getElementById("conversation").scrollIntoView({behavior: "smooth"});
}

document.getElementById("scope").addEventListener("submit", event => { event.preventDefault(); load(); });
document.getElementById("close").addEventListener("click", () => { document.getElementById("conversation").hidden = true; });
load();
