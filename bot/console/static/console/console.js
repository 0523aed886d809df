// Tandem handoff console: plain JS over the console's JSON API and its websocket (docs/console.md).
// Every text from the API goes into the page as a text node (el() or textContent), never as HTML.
//
// Stable test ids (data-testid):
//   login page    login-form, login-username, login-password, login-submit, login-error
//   header        agent-name, presence (data-presence="online|away"), logout, notice (data-kind="error|info"),
//                 connection (data-state="connecting|live|offline")
//   queue         queue, queue-count, queue-item-<id> (data-status, data-priority), waiting (inside an item)
//   conversation  ticket (data-ticket-id, data-status), ticket-title, ticket-facts, ticket-status, claim, release,
//                 hand-back, survey, close, transcript, message (data-role="customer|bot|agent|event"),
//                 reply-form, canned-replies, reply-input, reply-send,
//                 callback-form, callback-phone, callback (voice tickets instead of the reply box),
//                 canned-new, canned-title, canned-text, canned-save (leads only)
//   context       reasons, frustration, sparkline, summary, profile, orders, history, notes, note,
//                 note-input, note-add
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const VOICE_CHANNELS = new Set(["voice", "twilio_voice"]);
const ROLES = new Set(["customer", "bot", "agent", "event"]);
const PRIORITIES = {1: "urgent", 2: "high", 3: "normal", 4: "low"};
const EMOTION_COLORS = {anger: "#c23934", disgust: "#8e44ad", sadness: "#2b6cb0", fear: "#d9822b",
                        surprise: "#b7950b", neutral: "#8a99ab", joy: "#1f8a4c"};
const FRUSTRATION_HANDOVER = 0.7; // the escalation threshold (docs/escalation.md), drawn on the sparkline
const RECONNECT_MAX_S = 30;
const NOTICE_SECONDS = 8;

const state = {agent: null, csrf: "", ticketId: null, detail: null, drafts: new Map(), canned: new Map(), socket: null,
               attempts: 0, noticeTimer: 0};

class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "on") Object.entries(value).forEach(([event, fn]) => node.addEventListener(event, fn));
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const $ = id => document.getElementById(id);

// ---- formatting -------------------------------------------------------------------------------------

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
  return Math.floor(s / 3600) + " h " + String(Math.floor(s / 60) % 60).padStart(2, "0") + " min";
}

function parseTime(iso) { // the API's times are UTC; one without an offset is read as UTC too
  return new Date(/(Z|[+-]\d\d:?\d\d)$/i.test(iso) ? iso : iso + "Z");
}

function clock(iso) {
  if (!iso) return "";
  const at = parseTime(iso);
  const time = at.toLocaleTimeString("en-GB", {hour: "2-digit", minute: "2-digit"});
  return at.toDateString() === new Date().toDateString() ? time : `${day(iso)} ${time}`;
}

function day(iso) {
  return iso ? parseTime(iso).toLocaleDateString("en-GB", {day: "numeric", month: "short", year: "numeric"}) : "";
}

function money(value) {
  const n = Number(value);
  return value === null || value === undefined || Number.isNaN(n) ? "–" : n.toLocaleString("en", {style: "currency", currency: "EUR"});
}

function label(name) {
  return String(name).replaceAll("_", " ");
}

function formatValue(value) { // an escalation reason's value: a number, a text, a list or an object
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (Array.isArray(value)) return value.map(formatValue).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${label(k)} ${formatValue(v)}`).join(", ");
  return String(value);
}

function who(ticket) {
  return ticket.customer ? ticket.customer.name : ticket.sender_id;
}

function priorityBadge(priority) {
  return el("span", {class: `badge p${priority}`, title: `priority ${priority}`}, `P${priority} ${PRIORITIES[priority] || ""}`);
}

// A duration that keeps counting: the node remembers when it was zero and tick() rewrites it every second.
function ticking(seconds) {
  return el("span", {class: "waiting", "data-testid": "waiting", "data-origin": performance.now() - seconds * 1000},
            duration(seconds));
}

function tick() {
  const now = performance.now();
  for (const node of document.querySelectorAll("[data-origin]")) node.textContent = duration((now - node.dataset.origin) / 1000);
}

// ---- the API ------------------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = {Accept: "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const answer = await fetch(path, {method, headers, credentials: "same-origin",
                                    body: body === undefined ? undefined : JSON.stringify(body)});
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new ApiError(answer.status, data.error || answer.statusText, answer.headers.get("Retry-After"));
  return data;
}

async function call(method, path, body) { // the console's calls: a lost session goes back to the login page
  try {
    return await api(method, path, body);
  } catch (error) {
    if (error.status === 401) location.assign("/login");
    throw error;
  }
}

function notify(message, kind = "error") {
  const notice = $("notice");
  notice.textContent = message;
  notice.dataset.kind = kind;
  clearTimeout(state.noticeTimer);
  state.noticeTimer = setTimeout(() => { notice.textContent = ""; }, NOTICE_SECONDS * 1000);
}

// Run a button's request with the button disabled; show a failure; redraw the ticket either way.
async function act(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    if (error.status !== 401) notify(error.message);
  } finally {
    button.disabled = false;
    if (state.ticketId !== null) await refresh();
  }
}

// ---- login page ---------------------------------------------------------------------------------------

// Where to go after signing in: the page that sent us here (?next=/analytics), if it is one of ours.
function afterLogin() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/(?![\/\\])[\w\-\/]*$/.test(next) ? next : "/console";
}

function startLogin() {
  const form = $("login"), error = $("login-error");
  form.addEventListener("submit", async event => {
    event.preventDefault();
    const fields = new FormData(form), button = form.querySelector("button[type=submit]");
    button.disabled = true;
    error.hidden = true;
    try {
      await api("POST", "/api/login", {username: fields.get("username"), password: fields.get("password")});
      location.assign(afterLogin());
    } catch (failure) {
      error.textContent = loginError(failure);
      error.hidden = false;
      form.elements.password.value = "";
      form.elements.password.focus();
    } finally {
      button.disabled = false;
    }
  });
}

function loginError(failure) {
  if (failure.status === 401) return "Wrong username or password.";
  if (failure.status === 429) {
    const wait = Number(failure.retryAfter);
    return `Too many failed sign-ins: try again in ${wait > 0 ? duration(wait) : "a few minutes"}.`;
  }
  return `Sign-in failed: ${failure.message}`;
}

// ---- console page -------------------------------------------------------------------------------------

async function startConsole() {
  let me;
  try {
    me = await call("GET", "/api/me");
  } catch (error) {
    if (error.status !== 401) notify(error.message);
    return;
  }
  state.csrf = me.csrf_token;
  showAgent(me.agent);
  bindControls();
  loadCanned();
  try {
    renderQueue((await call("GET", "/api/queue")).tickets);
  } catch (error) {
    notify(error.message);
  }
  setInterval(tick, 1000);
  connect();
  const linked = /^#ticket-(\d+)$/.exec(location.hash);
  if (linked) openTicket(Number(linked[1]));
  document.body.dataset.ready = "true";
}

function bindControls() {
  $("presence").addEventListener("click", togglePresence);
  $("logout").addEventListener("click", async () => {
    try {
      await call("POST", "/api/logout");
    } finally {
      location.assign("/login");
    }
  });
  for (const [id, path, body] of [["claim", "claim"], ["release", "release"], ["hand-back", "hand-back"],
                                  ["close", "close", () => ({survey: $("survey").checked})]]) {
    $(id).addEventListener("click", event => act(event.currentTarget, () =>
      call("POST", `/api/tickets/${state.ticketId}/${path}`, body ? body() : undefined)));
  }
  $("reply").addEventListener("submit", event => submitText(event, "reply-input", "reply-send", "reply"));
  $("note-form").addEventListener("submit", event => submitText(event, "note-input", "note-add", "notes"));
  $("callback").addEventListener("submit", event => {
    event.preventDefault();
    act($("callback-send"), () => call("POST", `/api/tickets/${state.ticketId}/callback`, {phone: $("callback-phone").value.trim()}));
  });
  $("canned").addEventListener("change", event => insertCanned(event.currentTarget));
  $("canned-form").addEventListener("submit", saveCanned);
}

// Send a textarea's text to the ticket; the text stays in the box unless the server took it.
function submitText(event, inputId, buttonId, path) {
  event.preventDefault();
  const input = $(inputId), text = input.value.trim(), id = state.ticketId;
  if (!text) return;
  act($(buttonId), async () => {
    await call("POST", `/api/tickets/${id}/${path}`, {text});
    if (state.ticketId === id) input.value = "";
    if (path === "reply") state.drafts.delete(id);
  });
}

async function togglePresence(event) {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    showAgent((await call("POST", "/api/presence", {presence: state.agent.presence === "online" ? "away" : "online"})).agent);
  } catch (error) {
    if (error.status !== 401) notify(error.message);
  } finally {
    button.disabled = false;
  }
}

function showAgent(agent) {
  state.agent = agent;
  $("agent-name").textContent = `${agent.display_name}${agent.role === "lead" ? " (lead)" : ""}`;
  const presence = $("presence");
  presence.dataset.presence = agent.presence;
  presence.setAttribute("aria-pressed", String(agent.presence === "online"));
  presence.textContent = agent.presence === "online" ? "Online" : agent.presence === "away" ? "Away" : "Offline";
  presence.title = agent.presence === "online" ? "Click to go away" : "Click to go online";
  $("canned-new").hidden = agent.role !== "lead";
}

// ---- queue --------------------------------------------------------------------------------------------

function renderQueue(tickets) {
  const waiting = tickets.filter(t => t.status === "open").length;
  $("queue-count").textContent = `${waiting} waiting · ${tickets.length - waiting} with agents`;
  document.title = waiting ? `(${waiting}) Tandem console` : "Tandem console";
  $("queue").replaceChildren(...(tickets.length ? tickets.map(queueItem) : [el("li", {class: "muted empty"}, "Nobody is waiting.")]));
}

function queueItem(t) {
  const reason = t.reasons && t.reasons.length ? label(t.reasons[0].name) : null;
  return el("li", {},
    el("button", {type: "button", class: "item", "data-testid": `queue-item-${t.id}`, "data-ticket-id": t.id,
                  "data-status": t.status, "data-priority": t.priority,
                  "aria-current": t.id === state.ticketId ? "true" : null, on: {click: () => openTicket(t.id)}},
       el("span", {class: "head"}, priorityBadge(t.priority), el("strong", {class: "who"}, who(t)), ticking(t.waiting_seconds)),
       el("span", {class: "sub muted"}, el("span", {class: "channel"}, t.channel), reason && ` · ${reason}`,
          t.claimed_by && el("span", {class: "claimed"}, ` · with ${t.claimed_by.display_name}`)),
       t.last_message && el("span", {class: "last muted"}, t.last_message.text)));
}

function markSelected() {
  for (const item of document.querySelectorAll("#queue [data-ticket-id]")) {
    if (Number(item.dataset.ticketId) === state.ticketId) item.setAttribute("aria-current", "true");
    else item.removeAttribute("aria-current");
  }
}

// ---- one ticket ---------------------------------------------------------------------------------------

async function openTicket(id) {
  if (id === state.ticketId) return;
  keepDraft(id);
  state.ticketId = id;
  state.detail = null;
  history.replaceState(null, "", `#ticket-${id}`);
  markSelected();
  watch(id);
  await refresh();
}

// Each ticket keeps its own unsent reply, so a draft never goes to the wrong customer.
function keepDraft(nextId) {
  const input = $("reply-input"), phone = $("callback-phone");
  if (state.ticketId !== null) state.drafts.set(state.ticketId, input.value);
  input.value = state.drafts.get(nextId) || "";
  phone.value = "";
}

async function refresh() {
  const id = state.ticketId;
  try {
    renderDetail(await call("GET", `/api/tickets/${id}`));
  } catch (error) {
    if (error.status !== 401 && id === state.ticketId) notify(error.message);
  }
}

function renderDetail(detail) {
  const t = detail.ticket;
  if (t.id !== state.ticketId) return; // an answer for a ticket the agent has left
  const first = !state.detail || state.detail.ticket.id !== t.id;
  state.detail = detail;
  $("no-ticket").hidden = true;
  $("ticket").hidden = false;
  $("context").hidden = false;
  $("ticket").dataset.ticketId = t.id;
  $("ticket").dataset.status = t.status;
  $("ticket-title").replaceChildren(priorityBadge(t.priority), ` #${t.id} `, who(t));
  $("ticket-facts").replaceChildren(...ticketFacts(t));
  renderControls(t, detail.customer);
  renderTranscript(detail.transcript, first);
  renderContext(detail);
}

function ticketFacts(t) {
  const status = t.status === "open" ? "waiting for an agent"
    : t.status === "closed" ? "closed"
    : t.claimed_by && t.claimed_by.id === state.agent.id ? "claimed by you" : `claimed by ${t.claimed_by ? t.claimed_by.display_name : "?"}`;
  const facts = [`${t.channel} · ${t.sender_id} · opened ${clock(t.created_at)}`];
  if (t.status !== "closed") facts.push(" (", ticking(t.waiting_seconds), " ago)");
  facts.push(" · ", el("span", {"data-testid": "ticket-status"}, status));
  if (t.follow_up) facts.push(` · asked for ${t.follow_up === "email" ? "an email" : "a call back"}${t.contact ? " at " + t.contact : ""}`);
  return facts;
}

// Which buttons an agent has: claim an open ticket; work (reply, release, hand back, close) their own; a lead works any.
function renderControls(t, profile) {
  const mine = t.status === "claimed" && t.claimed_by && t.claimed_by.id === state.agent.id;
  const canWork = t.status === "claimed" && (mine || state.agent.role === "lead");
  $("claim").hidden = t.status !== "open";
  $("release").hidden = t.status !== "claimed";
  $("release").disabled = !canWork;
  const voice = VOICE_CHANNELS.has(t.channel);
  $("hand-back").disabled = $("close").disabled = !canWork;
  $("survey").disabled = !canWork || voice; // the bot asks for a rating in writing only
  $("reply").hidden = voice;
  $("callback").hidden = !voice;
  for (const id of ["reply-input", "reply-send", "canned", "callback-phone", "callback-send"]) $(id).disabled = !mine;
  $("reply-input").placeholder = mine ? "Reply to the customer…"
    : t.status === "claimed" ? `${t.claimed_by.display_name} has this conversation` : "Claim the ticket to reply";
  const phone = $("callback-phone");
  if (voice && !phone.value) phone.value = t.contact || (profile && profile.phone) || t.sender_id.replace(/^[a-z_]+:/, "");
}

function renderTranscript(messages, first) {
  const list = $("transcript");
  const atBottom = first || list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...(messages.length ? messages.map(message) : [el("li", {class: "muted"}, "No messages yet.")]));
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function message(m) {
  const role = ROLES.has(m.role) ? m.role : "event";
  const author = {customer: "Customer", bot: "Bot", agent: m.agent || "Agent", event: null}[role];
  const meta = [clock(m.at), m.intent, m.emotion].filter(Boolean).join(" · ");
  return el("li", {class: `message ${role}`, "data-testid": "message", "data-role": role},
    author && el("span", {class: "author"}, author),
    el("div", {class: "text"}, m.text),
    m.buttons && m.buttons.length ? el("div", {class: "buttons"}, ...m.buttons.map(title => el("span", {class: "chip"}, title))) : null,
    el("span", {class: "meta"}, meta));
}

// ---- context ------------------------------------------------------------------------------------------

function renderContext(detail) {
  const t = detail.ticket;
  $("reasons").replaceChildren(...(t.reasons.length ? t.reasons.map(r => el("li", {"data-reason": r.name},
    el("strong", {}, label(r.name)), " ", el("span", {class: "muted"}, formatValue(r.value)))) : [el("li", {class: "muted"}, "No reason recorded.")]));
  const frustration = $("frustration");
  frustration.textContent = t.frustration === null || t.frustration === undefined ? "–" : t.frustration.toFixed(2);
  frustration.className = t.frustration >= FRUSTRATION_HANDOVER ? "high" : "";
  $("sparkline").replaceChildren(sparkline(detail.emotions));
  $("summary").textContent = t.summary || "";
  $("profile").replaceChildren(...profileFacts(detail.customer, t));
  $("orders").replaceChildren(...(detail.orders.length ? detail.orders.map(o => el("li", {"data-order": o.id},
    el("strong", {}, `#${o.id}`), ` ${label(o.status)} · ${day(o.placed_at)} · ${money(o.total)}`,
    el("div", {class: "muted"}, o.items.join(", ")))) : [el("li", {class: "muted"}, "No orders.")]));
  $("history").replaceChildren(...(detail.history.length ? detail.history.map(h => el("li", {"data-kind": h.kind},
    el("span", {class: "chip"}, h.channel ? `${h.kind} · ${h.channel}` : h.kind), " ", h.text))
    : [el("li", {class: "muted"}, "Nothing else on record.")]));
  $("notes").replaceChildren(...(detail.notes.length ? detail.notes.map(n => el("li", {"data-testid": "note"},
    el("div", {class: "text"}, n.text),
    el("span", {class: "meta"}, `${n.agent} · ${clock(n.created_at)}`)))
    : [el("li", {class: "muted"}, "No notes yet.")]));
}

function profileFacts(profile, t) {
  if (!profile) return [el("dt", {}, "Not identified"), el("dd", {}, t.contact || t.sender_id)];
  return [["Name", profile.name], ["Email", profile.email], ["Phone", profile.phone], ["Customer since", day(profile.since)],
          ["Lifetime spend", money(profile.lifetime_spend)], ["Open orders", profile.open_orders]]
    .flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value === null || value === undefined || value === "" ? "–" : value)]);
}

// Each customer message's emotion as a coloured dot along the bottom; above, the frustration the bot assessed.
function sparkline(emotions) {
  if (!emotions.length) return el("span", {class: "muted"}, "No emotion data.");
  const width = 240, height = 64, pad = 5, strip = height - pad - 3, top = pad, bottom = strip - 10;
  const x = i => pad + (emotions.length === 1 ? (width - 2 * pad) / 2 : i * (width - 2 * pad) / (emotions.length - 1));
  const y = v => top + (bottom - top) * (1 - Math.min(1, Math.max(0, v)));
  const known = v => v !== null && v !== undefined;
  const svg = el("svg:svg", {viewBox: `0 0 ${width} ${height}`, width: "100%", height, role: "img",
                             "aria-label": "frustration and emotion over time"});
  svg.append(el("svg:line", {class: "threshold", x1: pad, x2: width - pad, y1: y(FRUSTRATION_HANDOVER), y2: y(FRUSTRATION_HANDOVER)},
                el("svg:title", {}, `hand-over threshold ${FRUSTRATION_HANDOVER}`)));
  let path = "", previous = false;
  emotions.forEach((p, i) => {
    if (known(p.frustration)) {
      path += `${previous ? "L" : "M"}${x(i).toFixed(1)},${y(p.frustration).toFixed(1)}`;
      svg.append(el("svg:circle", {cx: x(i), cy: y(p.frustration), r: 2, fill: "#5f6b7a"}));
    }
    previous = known(p.frustration);
  });
  if (path) svg.append(el("svg:path", {d: path, fill: "none", stroke: "#5f6b7a", "stroke-width": 1.5}));
  emotions.forEach((p, i) => svg.append(el("svg:circle", {cx: x(i), cy: strip, r: 4, fill: EMOTION_COLORS[p.emotion] || "#d9dee5",
                                                          "data-emotion": p.emotion || "none"},
    el("svg:title", {}, `${clock(p.at)}: ${p.emotion || "no emotion"}` +
                        (known(p.frustration) ? `, frustration ${p.frustration.toFixed(2)}` : "")))));
  return svg;
}

// ---- canned replies -----------------------------------------------------------------------------------

async function loadCanned() {
  try {
    const {replies} = await call("GET", "/api/canned-replies");
    state.canned = new Map(replies.map(r => [String(r.id), r]));
    $("canned").replaceChildren(el("option", {value: ""}, "Canned replies…"),
                                ...replies.map(r => el("option", {value: r.id, title: r.text}, r.title)));
  } catch (error) {
    if (error.status !== 401) notify(`Canned replies: ${error.message}`);
  }
}

function insertCanned(select) {
  const reply = state.canned.get(select.value), input = $("reply-input");
  select.value = "";
  if (!reply) return;
  input.value = input.value.trim() ? `${input.value.trimEnd()} ${reply.text}` : reply.text;
  input.focus();
}

async function saveCanned(event) {
  event.preventDefault();
  const form = event.currentTarget, button = form.querySelector("button");
  button.disabled = true;
  try {
    await call("POST", "/api/canned-replies", {title: $("canned-title").value.trim(), text: $("canned-text").value.trim()});
    form.reset();
    notify("Canned reply saved.", "info");
    await loadCanned();
  } catch (error) {
    if (error.status !== 401) notify(error.message);
  } finally {
    button.disabled = false;
  }
}

// ---- live updates -------------------------------------------------------------------------------------

function connect() {
  showConnection("connecting", "connecting…");
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/live`);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.attempts = 0;
    showConnection("live", "live");
    if (state.ticketId !== null) {
      watch(state.ticketId);
      refresh(); // catch up on what changed while the socket was down
    }
  });
  socket.addEventListener("message", event => receive(event.data));
  socket.addEventListener("close", () => {
    if (state.socket === socket) reconnectLater();
  });
}

function receive(data) {
  let push;
  try {
    push = JSON.parse(data);
  } catch {
    console.warn("console: a push that is not JSON", data);
    return;
  }
  if (push.type === "queue") renderQueue(push.tickets);
  else if (push.type === "ticket" && push.ticket_id === state.ticketId) renderDetail(push.detail);
}

function watch(id) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify({type: "watch", ticket_id: id}));
}

// Exponential backoff (1, 2, 4 … 30 s, with jitter); a session that has ended goes to the login page instead.
function reconnectLater() {
  state.socket = null;
  const delay = Math.min(RECONNECT_MAX_S, 2 ** state.attempts) * (0.8 + 0.4 * Math.random());
  state.attempts += 1;
  showConnection("offline", `offline · reconnecting in ${Math.round(delay)} s`);
  setTimeout(async () => {
    try {
      await call("GET", "/api/me");
    } catch (error) {
      if (error.status === 401) return;
    }
    connect();
  }, delay * 1000);
}

function showConnection(kind, text) {
  const node = $("connection");
  node.dataset.state = kind;
  node.textContent = text;
}

if (document.body.dataset.page === "login") startLogin();
else startConsole();
