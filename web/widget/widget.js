/*! Omnitrail web chat widget. Embed with one tag:
 *   <script src="https://cc.example.com/webchat/<connector>/widget.js" async></script>
 * Optional, before that tag (identity verification, see the connector's README):
 *   <script>window.OmnitrailChatSettings = {user_id: "42", email: "ada@example.com",
 *           name: "Ada", user_hash: "<hex HMAC-SHA256 from your server>"};</script>
 * Plain JavaScript, no dependencies, no cookies: the visitor's signed token lives in this site's
 * localStorage. Everything from the network is inserted as text, never as HTML. The UI lives in a
 * shadow root so the page's styles and ours do not mix. */
(function () {
  "use strict";
  if (window.OmnitrailChat && window.OmnitrailChat.__loaded) return;

  // ------------------------------------------------------------------ where we come from
  var script = document.currentScript;
  if (!script) {
    var candidates = document.querySelectorAll('script[src*="/webchat/"]');
    for (var i = 0; i < candidates.length; i++) {
      if (/\/webchat\/[^/]+\/widget\.js(\?|$)/.test(candidates[i].src)) script = candidates[i];
    }
  }
  if (!script || !script.src) return;
  var src = new URL(script.src, location.href);
  var match = /^\/webchat\/([^/]+)\/widget\.js$/.exec(src.pathname);
  if (!match) return;
  var CONNECTOR = decodeURIComponent(match[1]);
  var WS_URL = (src.protocol === "https:" ? "wss://" : "ws://") + src.host + "/webchat/" + encodeURIComponent(CONNECTOR) + "/ws";
  var STORE_KEY = "omnitrail.chat." + src.host + "." + CONNECTOR;
  var settings = window.OmnitrailChatSettings && typeof window.OmnitrailChatSettings === "object" ? window.OmnitrailChatSettings : {};

  // ------------------------------------------------------------------ persistent state
  var memoryStore = {};
  function load() {
    try {
      var raw = window.localStorage.getItem(STORE_KEY);
      return raw ? JSON.parse(raw) || {} : {};
    } catch (e) {
      return memoryStore;
    }
  }
  function save(value) {
    memoryStore = value;
    try { window.localStorage.setItem(STORE_KEY, JSON.stringify(value)); } catch (e) { /* private mode: memory only */ }
  }
  var saved = load();
  var state = {
    token: typeof saved.token === "string" ? saved.token : "",
    pending: Array.isArray(saved.pending) ? saved.pending.filter(function (p) { return p && typeof p.id === "string" && typeof p.text === "string"; }) : [],
    formDone: !!saved.formDone,
    formValues: saved.formValues && typeof saved.formValues === "object" ? saved.formValues : null,
    open: !!saved.open,
    ws: null,
    generation: 0,
    connected: false,
    welcomed: false,
    retries: 0,
    retryTimer: null,
    pingTimer: null,
    lastFrameAt: 0,
    stopped: false,
    chat: null,          // {id, state, agent: {name}, agents_available}
    agentsAvailable: true,
    form: null,          // {fields, required} while the pre-chat form is wanted
    texts: { title: "Chat with us", greeting: "", offline: "" },
    maxText: 4000,
    messages: [],        // [{id, from, agent, text, at, status}] in display order
    ids: {},             // id -> message
    unread: 0,
    lastTypingSent: 0,
    typingTimer: null,
    receivedQueue: [],
    receivedTimer: null,
    resendTimer: null,
  };
  function persist() {
    save({ token: state.token, pending: state.pending, formDone: state.formDone, formValues: state.formValues, open: state.open });
  }

  // ------------------------------------------------------------------ DOM
  var host = document.createElement("div");
  host.setAttribute("data-omnitrail-chat", CONNECTOR);
  host.style.all = "initial";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

  function el(tag, cls, attrs, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (attrs) for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var style = el("style");
  style.textContent = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;border-radius:50%;border:0;",
    "background:#1f6feb;color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}",
    ".launcher:focus-visible{outline:3px solid #9ec5ff;outline-offset:2px}",
    ".launcher svg{width:28px;height:28px;fill:currentColor}",
    ".badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;border-radius:10px;background:#d1242f;color:#fff;",
    "font-size:12px;line-height:20px;text-align:center;padding:0 5px}",
    ".badge[hidden]{display:none}",
    ".panel{position:fixed;right:20px;bottom:88px;z-index:2147483000;width:360px;max-width:calc(100vw - 40px);height:520px;",
    "max-height:calc(100vh - 110px);background:#fff;color:#1f2328;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);",
    "display:flex;flex-direction:column;overflow:hidden;font-size:14px}",
    ".panel[hidden]{display:none}",
    ".head{background:#1f6feb;color:#fff;padding:12px 14px;display:flex;align-items:center;gap:8px}",
    ".head h2{margin:0;font-size:16px;font-weight:600;flex:1}",
    ".head button{background:transparent;border:0;color:#fff;cursor:pointer;font-size:13px;padding:4px 6px;border-radius:6px}",
    ".head button:hover,.head button:focus-visible{background:rgba(255,255,255,.18);outline:none}",
    ".status{padding:6px 14px;font-size:12px;color:#57606a;background:#f6f8fa;border-bottom:1px solid #d0d7de;min-height:26px}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;margin:0;list-style:none}",
    ".msg{max-width:80%;padding:8px 10px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere}",
    ".msg.visitor{align-self:flex-end;background:#1f6feb;color:#fff;border-bottom-right-radius:4px}",
    ".msg.agent{align-self:flex-start;background:#eaeef2;color:#1f2328;border-bottom-left-radius:4px}",
    ".msg .who{display:block;font-size:11px;font-weight:600;margin-bottom:2px;color:#57606a}",
    ".msg .meta{display:block;font-size:10px;opacity:.75;margin-top:3px;text-align:right}",
    ".system{align-self:center;font-size:12px;color:#57606a;text-align:center;padding:2px 8px}",
    ".typing{padding:0 14px 6px;font-size:12px;color:#57606a;min-height:18px}",
    ".form{padding:12px 14px;border-top:1px solid #d0d7de;display:flex;flex-direction:column;gap:8px}",
    ".form[hidden]{display:none}",
    ".form label{font-size:12px;color:#57606a;display:flex;flex-direction:column;gap:3px}",
    ".form input{font-size:14px;padding:7px 8px;border:1px solid #d0d7de;border-radius:6px}",
    ".form .error{color:#d1242f;font-size:12px;min-height:14px;margin:0}",
    ".compose{display:flex;gap:6px;padding:10px;border-top:1px solid #d0d7de}",
    ".compose[hidden]{display:none}",
    ".compose textarea{flex:1;resize:none;font-size:14px;padding:8px;border:1px solid #d0d7de;border-radius:8px;height:42px;max-height:120px}",
    ".btn{background:#1f6feb;color:#fff;border:0;border-radius:8px;padding:0 14px;font-size:14px;cursor:pointer;min-height:36px}",
    ".btn:disabled{opacity:.5;cursor:default}",
    ".btn:focus-visible,.compose textarea:focus-visible,.form input:focus-visible{outline:2px solid #1f6feb;outline-offset:1px}",
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}}",
  ].join("\n");
  root.appendChild(style);

  var launcher = el("button", "launcher", { type: "button", "aria-label": "Open chat", "aria-expanded": "false" });
  var svgNS = "http://www.w3.org/2000/svg";
  var icon = document.createElementNS(svgNS, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  var iconPath = document.createElementNS(svgNS, "path");
  iconPath.setAttribute("d", "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z");
  icon.appendChild(iconPath);
  launcher.appendChild(icon);
  var badge = el("span", "badge", { "aria-hidden": "true" });
  badge.hidden = true;
  launcher.appendChild(badge);

  var panel = el("section", "panel", { role: "dialog", "aria-label": "Chat" });
  panel.hidden = true;
  var head = el("header", "head");
  var title = el("h2", "title", null, "Chat with us");
  var endButton = el("button", "end", { type: "button" }, "End chat");
  endButton.hidden = true;
  var closeButton = el("button", "close", { type: "button", "aria-label": "Close chat" }, "✕");
  head.appendChild(title);
  head.appendChild(endButton);
  head.appendChild(closeButton);
  var status = el("p", "status", { role: "status" }, "Connecting…");
  var log = el("ol", "log", { "aria-live": "polite", "aria-label": "Messages" });
  var typing = el("div", "typing", { "aria-live": "polite" });
  var form = el("form", "form", { novalidate: "" });
  form.hidden = true;
  var formInputs = {};
  var formError = el("p", "error", { role: "alert" });
  var formSubmit = el("button", "btn", { type: "submit" }, "Start chat");
  var compose = el("form", "compose");
  var input = el("textarea", "input", { "aria-label": "Your message", placeholder: "Write a message…", rows: "1", maxlength: "4000" });
  var sendButton = el("button", "btn send", { type: "submit" }, "Send");
  compose.appendChild(input);
  compose.appendChild(sendButton);
  panel.appendChild(head);
  panel.appendChild(status);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  panel.appendChild(compose);
  root.appendChild(panel);
  root.appendChild(launcher);

  function mount() {
    if (!host.isConnected) document.body.appendChild(host);
  }

  // ------------------------------------------------------------------ rendering
  var timeFmt;
  try { timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }); } catch (e) { timeFmt = null; }
  function timeText(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d.getTime())) return "";
    return timeFmt ? timeFmt.format(d) : d.toLocaleTimeString();
  }

  function statusText(m) {
    if (m.from !== "visitor") return timeText(m.at);
    if (m.status === "sending") return "Sending…";
    if (m.status === "failed") return "Not sent yet, retrying";
    return timeText(m.at) + " · Sent";
  }

  function renderMessage(m) {
    var li = el("li", "msg " + (m.from === "agent" ? "agent" : "visitor"), { "data-id": m.id });
    if (m.from === "agent") li.appendChild(el("span", "who", null, m.agent || "Agent"));
    li.appendChild(document.createTextNode(m.text));
    li.appendChild(el("span", "meta", null, statusText(m)));
    m.node = li;
    return li;
  }

  function refresh(m) {
    if (!m.node) return;
    var meta = m.node.querySelector(".meta");
    if (meta) meta.textContent = statusText(m);
  }

  function system(text) {
    log.appendChild(el("li", "system", null, text));
    log.scrollTop = log.scrollHeight;
  }

  function renderAll() {
    while (log.firstChild) log.removeChild(log.firstChild);
    if (!state.messages.length && state.texts.greeting) system(state.texts.greeting);
    for (var i = 0; i < state.messages.length; i++) log.appendChild(renderMessage(state.messages[i]));
    log.scrollTop = log.scrollHeight;
  }

  // Adds a message once (by id); `status` for our own lines.
  function addMessage(m) {
    var existing = state.ids[m.id];
    if (existing) {
      if (m.from === "visitor" && existing.status !== "sent" && m.status === "sent") {
        existing.status = "sent";
        refresh(existing);
      }
      return existing;
    }
    state.ids[m.id] = m;
    state.messages.push(m);
    log.appendChild(renderMessage(m));
    log.scrollTop = log.scrollHeight;
    if (m.from === "agent") {
      queueReceived(m.id);
      if (!state.open) {
        state.unread++;
        badge.textContent = String(state.unread);
        badge.hidden = false;
      }
    }
    return m;
  }

  function setStatus() {
    var chat = state.chat;
    var text;
    if (!state.connected) text = state.retries > 0 ? "Reconnecting…" : "Connecting…";
    else if (!chat) text = state.agentsAvailable ? "We usually answer within minutes." : (state.texts.offline || "No one is available right now.");
    else if (chat.state === "assigned" && chat.agent) text = "You are chatting with " + chat.agent.name;
    else if (chat.agents_available === false || !state.agentsAvailable) text = state.texts.offline || "No one is available right now. Leave a message.";
    else text = "Waiting for an agent…";
    status.textContent = text;
    endButton.hidden = !chat;
  }

  function showForm(spec) {
    while (form.firstChild) form.removeChild(form.firstChild);
    formInputs = {};
    var labels = { name: "Your name", email: "Email", phone: "Phone" };
    var types = { name: "text", email: "email", phone: "tel" };
    var fields = Array.isArray(spec.fields) ? spec.fields : [];
    var required = Array.isArray(spec.required) ? spec.required : [];
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (!labels[f]) continue;
      var label = el("label", null, null, labels[f] + (required.indexOf(f) >= 0 ? " *" : ""));
      var field = el("input", null, { type: types[f], name: f, autocomplete: f === "name" ? "name" : f === "email" ? "email" : "tel", maxlength: f === "email" ? "254" : "128" });
      if (required.indexOf(f) >= 0) field.required = true;
      if (f === "name" && settings.name) field.value = String(settings.name);
      if (f === "email" && settings.email) field.value = String(settings.email);
      label.appendChild(field);
      form.appendChild(label);
      formInputs[f] = field;
    }
    form.appendChild(formError);
    form.appendChild(formSubmit);
    form.hidden = false;
    compose.hidden = true;
  }

  function hideForm() {
    form.hidden = true;
    compose.hidden = false;
  }

  // ------------------------------------------------------------------ connection
  function send(frame) {
    if (!state.ws || state.ws.readyState !== 1) return false;
    try { state.ws.send(JSON.stringify(frame)); } catch (e) { return false; }
    return true;
  }

  function connect() {
    if (state.stopped || state.ws) return;
    var generation = ++state.generation;
    var ws;
    try { ws = new WebSocket(WS_URL); } catch (e) { scheduleReconnect(); return; }
    state.ws = ws;
    ws.onopen = function () {
      if (generation !== state.generation) return;
      state.connected = true;
      state.lastFrameAt = Date.now();
      var hello = { type: "hello", page: location.origin + location.pathname };
      if (state.token) hello.token = state.token;
      var identity = {};
      var any = false;
      ["user_id", "email", "phone", "name", "user_hash"].forEach(function (k) {
        if (settings[k] !== undefined && settings[k] !== null && settings[k] !== "") { identity[k] = String(settings[k]); any = true; }
      });
      if (any) hello.identity = identity;
      send(hello);
      startPing();
    };
    ws.onmessage = function (ev) {
      if (generation !== state.generation) return;
      state.lastFrameAt = Date.now();
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame && typeof frame === "object") handle(frame);
    };
    ws.onclose = function (ev) {
      if (generation !== state.generation) return;
      state.ws = null;
      state.connected = false;
      state.welcomed = false;
      stopPing();
      if (ev.code === 4003) {
        state.stopped = true;
        status.textContent = "This chat is unavailable (identity could not be verified).";
        return;
      }
      setStatus();
      scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    if (state.stopped) return;
    clearTimeout(state.retryTimer);
    var delay = Math.min(30000, 1000 * Math.pow(2, Math.min(state.retries, 5)));
    delay = delay / 2 + Math.random() * delay / 2;
    state.retries++;
    state.retryTimer = setTimeout(connect, delay);
  }

  function startPing() {
    stopPing();
    state.pingTimer = setInterval(function () {
      if (!state.ws || state.ws.readyState !== 1) return;
      if (Date.now() - state.lastFrameAt > 60000) {
        try { state.ws.close(4000, "no answer"); } catch (e) { /* ignore */ }
        return;
      }
      send({ type: "ping" });
    }, 25000);
  }
  function stopPing() {
    clearInterval(state.pingTimer);
    state.pingTimer = null;
  }

  // ------------------------------------------------------------------ protocol
  function handle(f) {
    switch (f.type) {
      case "welcome": return onWelcome(f);
      case "token":
        if (typeof f.token === "string") { state.token = f.token; persist(); }
        return;
      case "status":
        if (f.chat && typeof f.chat === "object") {
          state.chat = f.chat;
          if (typeof f.chat.agents_available === "boolean") state.agentsAvailable = f.chat.agents_available;
        }
        return setStatus();
      case "message": return onMessage(f.message);
      case "ack": return onAck(f.id);
      case "typing": return onTyping(f);
      case "ended":
        state.chat = null;
        typing.textContent = "";
        system(f.reason === "agent" ? "The agent ended the chat." : f.reason === "idle" ? "The chat ended after a period of inactivity." : "Chat ended.");
        return setStatus();
      case "error": return onError(f);
      default: return; // pong and future types
    }
  }

  function onWelcome(f) {
    state.welcomed = true;
    state.retries = 0;
    if (typeof f.token === "string") state.token = f.token;
    state.chat = f.chat && typeof f.chat === "object" ? f.chat : null;
    state.agentsAvailable = f.agents_available !== false;
    if (f.texts && typeof f.texts === "object") {
      state.texts.title = typeof f.texts.title === "string" ? f.texts.title : state.texts.title;
      state.texts.greeting = typeof f.texts.greeting === "string" ? f.texts.greeting : "";
      state.texts.offline = typeof f.texts.offline === "string" ? f.texts.offline : "";
    }
    title.textContent = state.texts.title;
    if (f.limits && typeof f.limits.max_text_bytes === "number") {
      state.maxText = f.limits.max_text_bytes;
      input.setAttribute("maxlength", String(state.maxText));
    }
    // The server's transcript is the truth: every stored message once, in order, then what we
    // still have to send.
    state.messages = [];
    state.ids = {};
    var list = Array.isArray(f.messages) ? f.messages : [];
    for (var i = 0; i < list.length; i++) {
      var m = normalise(list[i]);
      if (m && !state.ids[m.id]) {
        m.status = "sent";
        state.ids[m.id] = m;
        state.messages.push(m);
      }
    }
    var keep = [];
    for (var j = 0; j < state.pending.length; j++) {
      var p = state.pending[j];
      if (state.ids[p.id]) continue;  // stored before we lost the connection
      keep.push(p);
      var pm = { id: p.id, from: "visitor", text: p.text, at: p.at, status: "sending" };
      state.ids[pm.id] = pm;
      state.messages.push(pm);
    }
    state.pending = keep;
    persist();
    renderAll();
    var receivedIds = state.messages.filter(function (x) { return x.from === "agent"; }).map(function (x) { return x.id; });
    for (var k = 0; k < receivedIds.length; k++) queueReceived(receivedIds[k]);
    state.form = f.form && typeof f.form === "object" ? f.form : null;
    // The server keeps the form per connection: what the visitor filled in once goes again with
    // every new connection (before any message), so a later chat needs no second form.
    if (!state.chat && state.formDone && state.formValues) send(Object.assign({ type: "form" }, state.formValues));
    if (state.form && !state.chat && !state.formDone && Array.isArray(state.form.fields) && state.form.fields.length) showForm(state.form);
    else hideForm();
    setStatus();
    flushPending();
  }

  function normalise(m) {
    if (!m || typeof m !== "object" || typeof m.id !== "string" || typeof m.text !== "string") return null;
    return { id: m.id, from: m.from === "agent" ? "agent" : "visitor", agent: typeof m.agent === "string" ? m.agent : "",
             text: m.text, at: typeof m.at === "string" ? m.at : "" };
  }

  function onMessage(raw) {
    var m = normalise(raw);
    if (!m) return;
    if (m.from === "visitor") {
      m.status = "sent";
      dropPending(m.id);
    } else {
      typing.textContent = "";
    }
    addMessage(m);
  }

  function onAck(id) {
    if (typeof id !== "string") return;
    if (id === "form") return;
    dropPending(id);
    var m = state.ids[id];
    if (m && m.status !== "sent") {
      m.status = "sent";
      refresh(m);
    }
  }

  function dropPending(id) {
    var before = state.pending.length;
    state.pending = state.pending.filter(function (p) { return p.id !== id; });
    if (state.pending.length !== before) persist();
  }

  function onTyping(f) {
    var who = typeof f.name === "string" && f.name ? f.name : "The agent";
    typing.textContent = who + " is typing…";
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(function () { typing.textContent = ""; }, 5000);
  }

  function onError(f) {
    var code = f.code;
    if (code === "rate_limited" || code === "retry" || code === "busy" || code === "not_ready") {
      var wait = typeof f.retry_after_ms === "number" ? Math.max(500, f.retry_after_ms) : 2000;
      if (typeof f.id === "string" && state.ids[f.id]) {
        state.ids[f.id].status = "failed";
        refresh(state.ids[f.id]);
      }
      clearTimeout(state.resendTimer);
      state.resendTimer = setTimeout(flushPending, wait);
      return;
    }
    if (code === "form_required" && state.form) {
      state.formDone = false;
      persist();
      showForm(state.form);
      return;
    }
    if (typeof f.message === "string") system(f.message);
  }

  // Sends every message not acknowledged yet, oldest first (the server ignores ids it stored).
  function flushPending() {
    if (!state.welcomed) return;
    for (var i = 0; i < state.pending.length; i++) {
      var p = state.pending[i];
      if (!send({ type: "message", id: p.id, text: p.text })) return;
      var m = state.ids[p.id];
      if (m && m.status === "failed") { m.status = "sending"; refresh(m); }
    }
  }

  function queueReceived(id) {
    state.receivedQueue.push(id);
    if (state.receivedTimer) return;
    state.receivedTimer = setTimeout(function () {
      state.receivedTimer = null;
      while (state.receivedQueue.length) {
        var batch = state.receivedQueue.splice(0, 100);
        if (!send({ type: "received", ids: batch })) { state.receivedQueue = batch.concat(state.receivedQueue); return; }
      }
    }, 300);
  }

  function newId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return "w" + hex;
  }

  // ------------------------------------------------------------------ user actions
  function setOpen(open) {
    state.open = open;
    persist();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    if (open) {
      state.unread = 0;
      badge.hidden = true;
      connect();
      setTimeout(function () { (form.hidden ? input : (form.querySelector("input") || input)).focus(); }, 0);
    }
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); launcher.focus(); });
  endButton.addEventListener("click", function () { send({ type: "end" }); });
  panel.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { setOpen(false); launcher.focus(); }
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var frame = { type: "form" };
    var required = state.form && Array.isArray(state.form.required) ? state.form.required : [];
    for (var f in formInputs) {
      var v = formInputs[f].value.trim();
      if (!v && required.indexOf(f) >= 0) { formError.textContent = "Please fill in every field marked *."; formInputs[f].focus(); return; }
      if (f === "email" && v && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) { formError.textContent = "Please enter a valid email address."; formInputs[f].focus(); return; }
      if (v) frame[f] = v;
    }
    if (!send(frame)) { formError.textContent = "Not connected yet; try again in a moment."; return; }
    formError.textContent = "";
    state.formDone = true;
    state.formValues = {};
    for (var key in frame) if (key !== "type") state.formValues[key] = frame[key];
    persist();
    hideForm();
    flushPending();  // a message refused for want of the form goes now
    input.focus();
  });

  compose.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    var m = { id: newId(), from: "visitor", text: text, at: new Date().toISOString(), status: "sending" };
    state.pending.push({ id: m.id, text: text, at: m.at });
    persist();
    addMessage(m);
    input.value = "";
    if (!send({ type: "message", id: m.id, text: text })) {
      m.status = "failed";
      refresh(m);
      connect();
    }
  });

  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      if (compose.requestSubmit) compose.requestSubmit(); else sendButton.click();
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (state.chat && now - state.lastTypingSent > 2000 && input.value) {
      state.lastTypingSent = now;
      send({ type: "typing" });
    }
  });

  // ------------------------------------------------------------------ start
  function start() {
    mount();
    setStatus();
    if (state.open) setOpen(true);
    else if (state.token || state.pending.length) connect();  // a returning visitor: resume (and show replies)
  }

  window.OmnitrailChat = {
    __loaded: true,
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
