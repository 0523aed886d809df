/* Tandem's web chat widget: one <script> tag, plain JS, talking to Rasa's socket.io channel.
 *
 *   <script src="https://CONSOLE/static/widget/tandem-widget.js" data-rasa-url="https://RASA"
 *           data-title="Questions? Ask us" data-login-token="(optional, signed by the shop)"></script>
 *
 * It loads its stylesheet and the vendored socket.io client from its own folder. Everything a customer,
 * the bot or an agent writes is inserted as text, never as HTML. See docs/channels.md.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.TandemWidget) return; // loaded twice: the first one stays

  var ASSETS = new URL(".", script.src).href;
  var config = {
    rasaUrl: (script.dataset.rasaUrl || window.location.origin).replace(/\/+$/, ""),
    title: script.dataset.title || "Chat with us",
    loginToken: script.dataset.loginToken || "",
    socketPath: script.dataset.socketPath || "/socket.io/",
  };
  var MAX_CHARS = 4000; // the channel refuses longer messages (TANDEM_MAX_MESSAGE_CHARS)
  var ANSWER_TIMEOUT_MS = 60000; // stop showing "typing" if Rasa never acknowledges a message
  var TRANSCRIPT_LIMIT = 100;
  var SESSION_KEY = "tandem-widget:session:" + config.rasaUrl; // localStorage: kept across visits
  var TRANSCRIPT_KEY = "tandem-widget:transcript:" + config.rasaUrl; // sessionStorage: this tab only
  var STATUS_TEXT = {
    idle: "",
    connecting: "Connecting\u2026",
    online: "Online",
    reconnecting: "Reconnecting\u2026",
    unavailable: "Chat is unavailable right now",
  };

  var socket = null;
  var sessionId = stored(window.localStorage, SESSION_KEY);
  var transcript = loadTranscript();
  var ready = false; // connected and the session confirmed: messages can go out
  var outbox = []; // messages typed while not ready
  var awaiting = 0; // messages sent whose answer Rasa has not acknowledged yet
  var unread = 0;
  var lastSent = "";

  // ---- DOM -------------------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function hiddenLabel(text) {
    return el("span", "tandem-sr", text);
  }

  function bubbleIcon() {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "tandem-launcher-icon");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "path"));
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    return svg;
  }

  var root = el("div", "tandem-widget");
  root.hidden = true; // until the stylesheet has loaded
  root.dataset.state = "idle";
  var launcher = el("button", "tandem-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "tandem-panel");
  launcher.appendChild(bubbleIcon());
  launcher.appendChild(el("span", "tandem-launcher-text", config.title));
  var badge = launcher.appendChild(el("span", "tandem-badge"));
  badge.hidden = true;

  var panel = el("section", "tandem-panel");
  panel.id = "tandem-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "tandem-title");
  var header = panel.appendChild(el("header", "tandem-header"));
  var heading = header.appendChild(el("h2", "tandem-title", config.title));
  heading.id = "tandem-title";
  var status = header.appendChild(el("p", "tandem-status"));
  status.setAttribute("role", "status");
  var closer = header.appendChild(el("button", "tandem-close", "\u00D7"));
  closer.type = "button";
  closer.setAttribute("aria-label", "Close the chat");

  var log = panel.appendChild(el("ol", "tandem-log"));
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.tabIndex = 0;
  var typing = panel.appendChild(el("div", "tandem-typing"));
  typing.hidden = true;
  typing.appendChild(el("span", "tandem-dots")).append(el("i"), el("i"), el("i"));
  typing.appendChild(hiddenLabel("The assistant is typing"));
  var replies = panel.appendChild(el("div", "tandem-replies"));
  replies.setAttribute("role", "group");
  replies.setAttribute("aria-label", "Suggested replies");

  var form = panel.appendChild(el("form", "tandem-form"));
  var label = form.appendChild(el("label", "tandem-sr", "Your message"));
  var input = form.appendChild(el("input", "tandem-input"));
  input.id = label.htmlFor = "tandem-input";
  input.type = "text";
  input.autocomplete = "off";
  input.maxLength = MAX_CHARS;
  input.placeholder = "Type a message\u2026";
  form.appendChild(el("button", "tandem-send", "Send")).type = "submit";
  root.append(panel, launcher);

  var stylesheet = el("link");
  stylesheet.rel = "stylesheet";
  stylesheet.href = ASSETS + "tandem-widget.css";
  stylesheet.onload = stylesheet.onerror = function () { root.hidden = false; };
  document.head.appendChild(stylesheet);

  // ---- what the log shows --------------------------------------------------------------------

  function safeUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function link(url, text) {
    var a = el("a", "tandem-link", text);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  /* Text with its http(s) addresses as links; every piece goes in as a text node. */
  function richText(text) {
    var block = el("p", "tandem-text");
    String(text).split(/(https?:\/\/[^\s<>"']+)/).forEach(function (part, index) {
      if (index % 2 === 0) {
        if (part) block.appendChild(document.createTextNode(part));
        return;
      }
      var trailing = part.match(/[.,;:!?)\]]+$/);
      var address = trailing ? part.slice(0, -trailing[0].length) : part;
      var url = safeUrl(address);
      block.appendChild(url ? link(url, address) : document.createTextNode(address));
      if (trailing) block.appendChild(document.createTextNode(trailing[0]));
    });
    return block;
  }

  function addEntry(kind, who) {
    var item = el("li", "tandem-msg tandem-from-" + kind);
    if (who) item.appendChild(hiddenLabel(who));
    log.appendChild(item);
    return item;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function showCustomer(text) {
    addEntry("customer", "You said:").appendChild(richText(text));
    scrollDown();
  }

  function showNotice(text) {
    addEntry("notice").appendChild(el("p", "tandem-text", text));
    scrollDown();
  }

  function agentName(message) {
    var name = message.agent && typeof message.agent.name === "string" ? message.agent.name.trim() : "";
    return name || "Our team";
  }

  function showBot(message) {
    var item;
    if (message.agent) {
      var name = agentName(message);
      item = addEntry("agent", name + " from our team said:");
      var byline = item.appendChild(el("p", "tandem-byline"));
      byline.setAttribute("aria-hidden", "true");
      byline.appendChild(el("span", "tandem-avatar", name.charAt(0).toUpperCase()));
      byline.appendChild(el("span", "tandem-agent-name", name));
      byline.appendChild(el("span", "tandem-agent-role", "Customer service"));
    } else {
      item = addEntry("bot", "Assistant said:");
    }
    if (typeof message.text === "string" && message.text.trim()) item.appendChild(richText(message.text));
    var attachment = message.attachment || {};
    var payload = attachment.payload || {};
    if (attachment.type === "image" && safeUrl(payload.src)) {
      var image = item.appendChild(el("img", "tandem-image"));
      image.src = safeUrl(payload.src);
      image.alt = "";
    } else if (attachment.type === "template" && payload.template_type === "generic") {
      item.appendChild(cards([].concat(payload.elements || [])));
    }
    scrollDown();
  }

  /* Product cards (a generic template): image, title, price, reason, and the card's buttons. */
  function cards(elements) {
    var list = el("ul", "tandem-cards");
    elements.forEach(function (element) {
      if (!element || typeof element.title !== "string") return;
      var card = list.appendChild(el("li", "tandem-card"));
      var imageUrl = safeUrl(element.image_url);
      if (imageUrl) {
        var image = card.appendChild(el("img", "tandem-card-image"));
        image.src = imageUrl;
        image.alt = element.title;
      } else {
        card.appendChild(el("span", "tandem-card-image tandem-card-initial", element.title.charAt(0)))
          .setAttribute("aria-hidden", "true");
      }
      card.appendChild(el("h3", "tandem-card-title", element.title));
      if (element.price) card.appendChild(el("p", "tandem-card-price", String(element.price)));
      if (element.subtitle) card.appendChild(el("p", "tandem-card-reason", String(element.subtitle)));
      (element.buttons || []).forEach(function (button) {
        if (button.type === "web_url" && safeUrl(button.url)) {
          card.appendChild(link(safeUrl(button.url), button.title || "Open")).classList.add("tandem-button");
        } else if (typeof button.payload === "string") {
          var choose = card.appendChild(el("button", "tandem-button", button.title || "Choose"));
          choose.type = "button";
          choose.setAttribute("aria-label", (button.title || "Choose") + ": " + element.title);
          choose.addEventListener("click", function () { send(button.payload, element.title); });
        }
      });
    });
    return list;
  }

  /* The buttons under the last bot message: clicking one sends its payload and shows its title. */
  function showReplies(buttons) {
    replies.replaceChildren();
    (buttons || []).forEach(function (button) {
      if (!button || typeof button.payload !== "string") return;
      var title = String(button.title || button.payload);
      var reply = replies.appendChild(el("button", "tandem-reply", title));
      reply.type = "button";
      reply.addEventListener("click", function () { send(button.payload, title); });
    });
  }

  function showTyping() {
    typing.hidden = awaiting === 0;
    if (!typing.hidden) scrollDown();
  }

  function setState(state) {
    root.dataset.state = state;
    status.textContent = STATUS_TEXT[state];
  }

  // ---- storage ---------------------------------------------------------------------------------

  function stored(storage, key) {
    try {
      return storage.getItem(key);
    } catch (error) { // storage disabled: the conversation lasts as long as the page
      return null;
    }
  }

  function store(storage, key, value) {
    try {
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, value);
    } catch (error) { /* storage disabled or full: nothing kept */ }
  }

  function loadTranscript() {
    try {
      var saved = JSON.parse(stored(window.sessionStorage, TRANSCRIPT_KEY) || "null");
      return saved && saved.session === sessionId && Array.isArray(saved.entries) ? saved.entries : [];
    } catch (error) {
      return [];
    }
  }

  function remember(entry) {
    transcript = transcript.concat([entry]).slice(-TRANSCRIPT_LIMIT);
    saveTranscript();
  }

  function saveTranscript() {
    store(window.sessionStorage, TRANSCRIPT_KEY, JSON.stringify({ session: sessionId, entries: transcript }));
  }

  function replay() {
    transcript.forEach(function (entry) {
      if (entry.from === "customer") showCustomer(entry.text);
      else showBot(entry.message);
    });
    var last = transcript[transcript.length - 1];
    if (last && last.from === "bot") showReplies(last.message.quick_replies || last.message.buttons);
  }

  // ---- talking to Rasa -----------------------------------------------------------------------

  function send(payload, shown) {
    var text = String(payload).trim();
    if (!text) return;
    if (text.length > MAX_CHARS) {
      showNotice("Sorry, that message is too long: please keep it under " + MAX_CHARS + " characters.");
      return;
    }
    showReplies([]);
    showCustomer(shown || text);
    remember({ from: "customer", text: shown || text });
    outbox.push(text);
    connect();
    flush();
    input.focus();
  }

  function flush() {
    while (ready && outbox.length) {
      var text = outbox.shift();
      var data = { message: text, session_id: sessionId };
      if (config.loginToken) data.metadata = { login_token: config.loginToken };
      lastSent = text;
      awaiting += 1;
      // Rasa acknowledges once it has handled the message: its answers have been sent by then
      socket.timeout(ANSWER_TIMEOUT_MS).emit("user_uttered", data, answered);
    }
    showTyping();
  }

  function answered() {
    awaiting = Math.max(0, awaiting - 1);
    showTyping();
  }

  function received(message) {
    if (!message || typeof message !== "object") return;
    showBot(message);
    remember({ from: "bot", message: message });
    showReplies(message.quick_replies || message.buttons);
    if (panel.hidden) {
      unread += 1;
      badge.hidden = false;
      badge.textContent = unread + (unread === 1 ? " new message" : " new messages");
    }
  }

  function refused(error) {
    error = error || {};
    if (error.event === "session_request") { // the stored session is not usable: start a new one
      forgetSession();
      showNotice("We've started a new conversation.");
      socket.emit("session_request", { session_id: null });
      return;
    }
    if (error.status === 413) {
      showNotice("Sorry, that message is too long: please keep it under " + MAX_CHARS + " characters.");
    } else if (error.status >= 500) {
      showNotice("Sorry, I couldn't answer that just now. Your message is back in the box: please send it again.");
      if (!input.value) input.value = lastSent;
    } else {
      showNotice("Sorry, I couldn't read that message. Could you put it another way?");
    }
  }

  function forgetSession() {
    sessionId = null;
    transcript = [];
    store(window.localStorage, SESSION_KEY, null);
    saveTranscript();
  }

  function confirmed(id) {
    if (typeof id !== "string" || !id) return;
    if (id !== sessionId) { // a new session: what the customer typed before it was confirmed belongs to it
      sessionId = id;
      store(window.localStorage, SESSION_KEY, id);
      saveTranscript();
    }
    ready = true;
    setState("online");
    flush();
  }

  function connect() {
    if (socket || !window.TandemWidget.io) return;
    setState("connecting");
    socket = window.TandemWidget.io(config.rasaUrl, {
      path: config.socketPath,
      transports: ["websocket", "polling"], // websocket first: no sticky sessions needed across replicas
      tryAllTransports: true, // long polling where a proxy refuses websockets
      reconnectionDelayMax: 5000,
    });
    window.TandemWidget.socket = socket;
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: sessionId });
    });
    socket.on("session_confirm", confirmed);
    socket.on("bot_uttered", received);
    socket.on("error", refused);
    socket.on("disconnect", function (reason) {
      ready = false;
      awaiting = 0; // answers to messages in flight are lost with the connection
      showTyping();
      setState(reason === "io client disconnect" ? "idle" : "reconnecting");
    });
    socket.on("connect_error", function () {
      if (!socket.active) setState("unavailable"); // refused for good; otherwise socket.io retries
      else setState("reconnecting");
    });
  }

  /* socket.io's UMD bundle sets window.io: keep ours private and give the page its own `io` back. */
  function loadClient() {
    var hadIo = Object.prototype.hasOwnProperty.call(window, "io");
    var previous = window.io;
    var tag = document.createElement("script");
    tag.src = ASSETS + "vendor/socket.io.min.js";
    tag.async = true;
    tag.onload = function () {
      window.TandemWidget.io = window.io;
      if (hadIo) window.io = previous;
      else delete window.io;
      if (sessionId || !panel.hidden) connect(); // an ongoing conversation: listen for answers at once
      flush();
    };
    tag.onerror = function () { setState("unavailable"); };
    document.head.appendChild(tag);
  }

  // ---- opening, closing, typing ----------------------------------------------------------------

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    unread = 0;
    badge.hidden = true;
    connect();
    scrollDown();
    input.focus();
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) open();
    else close();
  });
  closer.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
  form.addEventListener("submit", function (event) { // Enter in the input submits the form
    event.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
  });

  window.TandemWidget = {
    open: open,
    close: close,
    sessionId: function () { return sessionId; },
    io: null, // the vendored socket.io client
    socket: null, // the connection, once there is one
  };
  function mount() {
    document.body.appendChild(root);
    replay();
    loadClient();
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
