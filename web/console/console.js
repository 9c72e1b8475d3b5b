// Omnitrail agent console. Plain JS, no dependencies, served under a strict CSP
// (script-src 'self'; style-src 'self'): no inline scripts, styles or handlers.
// Every piece of data is inserted with textContent / attributes, never as HTML:
// customer data comes from phones, emails and chats and is hostile.
(function () {
  "use strict";

  const TOKEN_KEY = "omnitrail.console.token";
  const API = "/api/v1";
  const WS_PATH = "/api/v1/agents/ws";
  const CHANNELS = ["phone", "email", "sms", "chat", "api", "note"];

  const state = {
    token: null,
    agent: null,          // from hello
    ws: null,
    wsGen: 0,             // generation of the current socket (stale sockets are ignored)
    connected: false,
    retries: 0,
    reconnectTimer: null,
    heartbeatTimer: null,
    lastMessageAt: 0,
    heartbeatSeconds: 20,
    stopped: true,        // true when signed out or the server refused us for good
    pops: new Map(),      // pop id -> {pop, el, dismissed}
    acked: new Set(),
    presence: "available",
    search: { q: "", cursor: null },
    customer: null,       // {id, view, timeline: null | {items, cursor}}
    msgId: 0,
  };

  // ---------------------------------------------------------------- DOM helpers

  const $ = (id) => document.getElementById(id);

  // h("div.cls1.cls2", {attr: v, dataset...}, child, "text", ...): builds an element.
  // Strings are text nodes; nothing is ever parsed as HTML.
  function h(spec, attrs, ...children) {
    const [tag, ...classes] = spec.split(".");
    const el = document.createElement(tag || "div");
    if (classes.length) el.className = classes.join(" ");
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "text") el.textContent = String(v);
        else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
        else if (k === "data") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
        else if (v === true) el.setAttribute(k, "");
        else el.setAttribute(k, String(v));
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
    return el;
  }

  // Channel icons: small inline SVGs built with createElementNS (no external assets).
  const ICONS = {
    phone: "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25c1.1.37 2.3.57 3.6.57a1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z",
    email: "M20 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2zm0 4-8 5-8-5V6l8 5 8-5z",
    sms: "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zM9 11H7V9h2zm4 0h-2V9h2zm4 0h-2V9h2z",
    chat: "M21 6h-2v9H6v2a1 1 0 0 0 1 1h11l4 4V7a1 1 0 0 0-1-1zm-4 6V3a1 1 0 0 0-1-1H3a1 1 0 0 0-1 1v14l4-4h10a1 1 0 0 0 1-1z",
    api: "M9.4 16.6 4.8 12l4.6-4.6L8 6l-6 6 6 6zm5.2 0 4.6-4.6-4.6-4.6L16 6l6 6-6 6z",
    note: "M3 17.25V21h3.75L17.8 9.94l-3.75-3.75zM20.7 7.04a1 1 0 0 0 0-1.41l-2.34-2.34a1 1 0 0 0-1.41 0l-1.83 1.83 3.75 3.75z",
    other: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-6h2zm0-8h-2V7h2z",
  };
  const CHANNEL_LABEL = { phone: "Phone", email: "Email", sms: "SMS", chat: "Chat", api: "API", note: "Note" };

  function channelIcon(channel, extraClass) {
    const ns = "http://www.w3.org/2000/svg";
    const known = Object.prototype.hasOwnProperty.call(ICONS, channel);
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("class", "icon icon-" + (known ? channel : "other") + (extraClass ? " " + extraClass : ""));
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", channelLabel(channel));
    svg.setAttribute("focusable", "false");
    const title = document.createElementNS(ns, "title");
    title.textContent = channelLabel(channel);
    svg.appendChild(title);
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[known ? channel : "other"]);
    svg.appendChild(path);
    return svg;
  }

  function channelLabel(channel) {
    return CHANNEL_LABEL[channel] || String(channel || "unknown");
  }

  // ---------------------------------------------------------------- formatting

  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const shortTimeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const shortDateTimeFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const dateFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

  function timeEl(iso, mode) {
    if (!iso) return h("span.muted", { text: "—" });
    const d = new Date(iso);
    if (isNaN(d.getTime())) return h("span", { text: String(iso) });
    const sameDay = new Date().toDateString() === d.toDateString();
    let text;
    if (mode === "date") text = dateFmt.format(d);
    else if (mode === "short") text = sameDay ? shortTimeFmt.format(d) : shortDateTimeFmt.format(d);
    else if (mode === "time" || (mode !== "full" && sameDay)) text = timeFmt.format(d);
    else text = dateTimeFmt.format(d);
    return h("time", { datetime: d.toISOString(), title: d.toString(), text });
  }

  function addrText(a) {
    if (a === null || a === undefined) return null;
    if (typeof a === "string") return a || null;
    if (typeof a === "object") return a.raw || a.key || null;
    return String(a);
  }

  function safeHttpUrl(u) {
    if (typeof u !== "string" || !u) return null;
    try {
      const url = new URL(u, location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function humanKind(kind) {
    if (typeof kind !== "string" || !kind) return "event";
    const known = {
      "call.ringing": "Call ringing", "call.answered": "Call answered", "call.ended": "Call ended",
      "call.missed": "Missed call", "email.received": "Email received", "email.sent": "Email sent",
      "sms.received": "SMS received", "sms.sent": "SMS sent", "sms.delivered": "SMS delivered",
      "chat.started": "Chat started", "chat.message": "Chat message", "chat.ended": "Chat ended",
      "note": "Note",
    };
    return known[kind] || kind;
  }

  // ---------------------------------------------------------------- UI feedback

  let toastTimer = null;
  function toast(message, kind) {
    const t = $("toast");
    t.textContent = message;
    t.dataset.kind = kind || "error";
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
  }

  function announce(message) {
    const a = $("announcer");
    a.textContent = "";
    // A fresh text node after a tick makes screen readers announce repeated messages too.
    setTimeout(() => { a.textContent = message; }, 50);
  }

  function setConn(stateName, text) {
    const c = $("conn");
    c.dataset.state = stateName;
    $("session").dataset.conn = stateName;
    $("conn-text").textContent = text;
  }

  // ---------------------------------------------------------------- REST

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body, tokenOverride, extraHeaders) {
    const headers = Object.assign({}, extraHeaders || {}, { Authorization: "Bearer " + (tokenOverride || state.token), Accept: "application/json" });
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(API + path, init);
    } catch (e) {
      throw new ApiError(0, "network", "The server cannot be reached.");
    }
    let data = null;
    const text = await resp.text();
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!resp.ok) {
      const err = data && data.error ? data.error : {};
      const e = new ApiError(resp.status, err.code || "http_" + resp.status, err.message || "Request failed (HTTP " + resp.status + ").");
      if (resp.status === 401 && !tokenOverride) {
        signOut("Your session is no longer valid. Please sign in again.");
      }
      throw e;
    }
    return data;
  }

  function reportError(e, where) {
    const msg = (where ? where + ": " : "") + (e && e.message ? e.message : String(e));
    toast(msg, "error");
  }

  // ---------------------------------------------------------------- sign in / out

  async function onSignIn(ev) {
    ev.preventDefault();
    const input = $("token");
    const token = input.value.trim();
    const err = $("signin-error");
    err.textContent = "";
    if (!token) {
      err.textContent = "Enter your token.";
      input.focus();
      return;
    }
    const btn = $("signin-submit");
    btn.disabled = true;
    try {
      // Any agent route checks the token; the WebSocket then tells agents from admins.
      await api("GET", "/suggestions?status=pending&limit=1", undefined, token);
    } catch (e) {
      btn.disabled = false;
      err.textContent = e.status === 401 ? "This token was not accepted." : e.message;
      input.focus();
      return;
    }
    btn.disabled = false;
    input.value = "";
    try { sessionStorage.setItem(TOKEN_KEY, token); } catch (_) { /* private mode: keep in memory */ }
    startSession(token);
  }

  function startSession(token) {
    state.token = token;
    state.stopped = false;
    state.retries = 0;
    $("signin").hidden = true;
    $("workspace").hidden = false;
    $("session").hidden = false;
    $("agent-name").textContent = "";
    connect();
    $("search-q").focus();
  }

  function signOut(message) {
    state.stopped = true;
    state.token = null;
    state.agent = null;
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* ignore */ }
    closeSocket(1000, "signed out");
    clearTimeout(state.reconnectTimer);
    for (const entry of state.pops.values()) entry.el.remove();
    state.pops.clear();
    state.acked.clear();
    updatePopsEmpty();
    closeCustomer();
    $("results").replaceChildren();
    $("results-wrap").hidden = true;
    $("search-q").value = "";
    $("session").hidden = true;
    $("workspace").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    setConn("offline", "Offline");
    $("token").focus();
  }

  // ---------------------------------------------------------------- WebSocket

  function wsUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + WS_PATH;
  }

  function connect() {
    if (state.stopped) return;
    clearTimeout(state.reconnectTimer);
    closeSocket(1000, "reconnecting");
    const gen = ++state.wsGen;
    setConn("connecting", state.retries ? "Reconnecting…" : "Connecting…");
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.addEventListener("open", () => {
      if (gen !== state.wsGen) return;
      setConn("connecting", "Authenticating…");
      ws.send(JSON.stringify({ type: "auth", token: state.token }));
    });
    ws.addEventListener("message", (ev) => {
      if (gen !== state.wsGen) return;
      state.lastMessageAt = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      if (msg && typeof msg === "object") handleMessage(msg);
    });
    ws.addEventListener("close", (ev) => {
      if (gen !== state.wsGen) return;
      state.ws = null;
      state.connected = false;
      stopHeartbeat();
      if (state.stopped) return;
      if (ev.code === 4001) {
        signOut("The server refused this token. Please sign in again.");
        return;
      }
      if (ev.code === 4003) {
        state.stopped = true;
        setConn("refused", "No pops: not an agent token");
        toast("This token is not an agent's token: screen-pops go to agents. Search still works.", "error");
        return;
      }
      scheduleReconnect(ev.code === 4008 ? "The connection fell behind" : null);
    });
    ws.addEventListener("error", () => { /* a close event follows */ });
  }

  function closeSocket(code, reason) {
    stopHeartbeat();
    const ws = state.ws;
    state.ws = null;
    state.connected = false;
    state.wsGen++;
    if (ws && ws.readyState <= 1) {
      try { ws.close(code, reason); } catch (_) { /* ignore */ }
    }
  }

  function scheduleReconnect(why) {
    if (state.stopped) return;
    // Exponential back-off with jitter: 1, 2, 4, 8, 16, 30 s max.
    const base = Math.min(30000, 1000 * Math.pow(2, state.retries));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    state.retries++;
    const until = Date.now() + delay;
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setConn("reconnecting", (why ? why + ". " : "Disconnected. ") + "Retrying in " + left + " s");
    };
    tick();
    clearTimeout(state.reconnectTimer);
    const step = () => {
      if (state.stopped) return;
      if (Date.now() >= until) { connect(); return; }
      tick();
      state.reconnectTimer = setTimeout(step, 1000);
    };
    state.reconnectTimer = setTimeout(step, Math.min(1000, delay));
  }

  function send(msg) {
    if (!state.ws || state.ws.readyState !== 1) return false;
    msg.id = "c" + (++state.msgId);
    state.ws.send(JSON.stringify(msg));
    return true;
  }

  // Application-level heartbeat: the server pings too, but a browser cannot see WebSocket pings,
  // so a dead network path is only noticed when our own pings go unanswered.
  function startHeartbeat(seconds) {
    stopHeartbeat();
    state.heartbeatSeconds = seconds > 0 ? seconds : 20;
    state.lastMessageAt = Date.now();
    state.heartbeatTimer = setInterval(() => {
      if (!state.ws || state.ws.readyState !== 1) return;
      if (Date.now() - state.lastMessageAt > state.heartbeatSeconds * 2000 + 5000) {
        const ws = state.ws;
        closeSocket(4000, "heartbeat timeout");
        try { ws.close(); } catch (_) { /* ignore */ }
        scheduleReconnect("No answer from the server");
        return;
      }
      state.ws.send(JSON.stringify({ type: "ping" }));
    }, state.heartbeatSeconds * 1000);
  }

  function stopHeartbeat() {
    clearInterval(state.heartbeatTimer);
    state.heartbeatTimer = null;
  }

  function handleMessage(msg) {
    switch (msg.type) {
      case "hello": onHello(msg); break;
      case "pop.ringing":
      case "pop.updated":
      case "pop.ended":
        if (msg.pop && typeof msg.pop === "object") upsertPop(msg.pop, msg.type);
        break;
      case "presence": setPresence(msg.presence); break;
      case "call.progress": onCallProgress(msg); break;
      case "chat.history": case "chat.message": case "chat.typing": case "chat.delivered": case "chat.ended":
        if (window.OmnitrailChatConsole) window.OmnitrailChatConsole.onMessage(msg); // chat.js
        break;
      case "error":
        toast("Server: " + (msg.message || msg.code || "error"), "error");
        break;
      default: break; // ack, pong and future types
    }
  }

  function onHello(msg) {
    state.connected = true;
    state.retries = 0;
    state.agent = msg.agent || null;
    const name = state.agent ? (state.agent.name || state.agent.id) : "";
    $("agent-name").textContent = name ? "Signed in as " + name : "";
    setConn("connected", "Connected");
    setPresence(msg.presence);
    startHeartbeat(Number(msg.heartbeat_seconds));
    const live = new Set();
    for (const pop of Array.isArray(msg.pops) ? msg.pops : []) {
      if (!pop || typeof pop !== "object") continue;
      live.add(pop.id);
      upsertPop(pop, "hello");
    }
    // Pops we still show as in progress but the server no longer has ended while we were away.
    for (const [id, entry] of state.pops) {
      if (!live.has(id) && entry.pop.state !== "ended") {
        upsertPop(Object.assign({}, entry.pop, { state: "ended", end_reason: entry.pop.end_reason || "gone" }), "gone");
      }
    }
  }

  // ---------------------------------------------------------------- presence

  function setPresence(p) {
    if (p !== "available" && p !== "away" && p !== "busy") return;
    state.presence = p;
    for (const input of document.querySelectorAll('input[name="presence"]')) input.checked = input.value === p;
    $("presence").dataset.value = p;
  }

  function onPresenceChange(ev) {
    const v = ev.target.value;
    if (!send({ type: "presence", status: v })) {
      toast("Not connected: presence will be set when the connection is back.", "error");
      setPresence(state.presence);
      return;
    }
    setPresence(v);
  }

  // ---------------------------------------------------------------- pops

  function popStateText(pop) {
    if (pop.state === "ringing") return "Ringing";
    if (pop.state === "answered") {
      const me = state.agent && pop.answered_by === state.agent.id;
      return "Answered by " + (pop.answered_by || "someone") + (me ? " (you)" : "");
    }
    if (pop.state === "ended") return "Ended";
    return String(pop.state || "Unknown");
  }

  function endReasonText(pop) {
    switch (pop.end_reason) {
      case "ended": return "The contact ended.";
      case "answered_elsewhere": return "Answered elsewhere" + (pop.answered_by ? " by " + pop.answered_by : "") + ".";
      case "timeout": return "Not answered in time.";
      case "gone": return "No longer in progress.";
      case null: case undefined: case "": return "";
      default: return "Reason: " + pop.end_reason + ".";
    }
  }

  function upsertPop(pop, why) {
    if (!pop.id) return;
    let entry = state.pops.get(pop.id);
    const isNew = !entry;
    if (entry && entry.dismissed) {
      if (pop.state === "ended") { entry.pop = pop; return; }
      entry.dismissed = false; // it came back to life
    }
    if (!entry) {
      entry = { pop, el: h("article.pop", { data: { popId: pop.id }, tabindex: "-1" }), dismissed: false };
      state.pops.set(pop.id, entry);
      $("pops").prepend(entry.el);
    }
    entry.pop = pop;
    renderPop(entry);
    updatePopsEmpty();
    if (isNew && pop.state !== "ended") {
      const view = pop.customer_view;
      const who = (view && view.customer && view.customer.display_name) || addrText(pop.trigger && pop.trigger.from) || "unknown customer";
      const ch = channelLabel(pop.trigger && pop.trigger.channel);
      announce((why === "hello" ? "In progress: " : "New ") + ch + " contact from " + who);
    }
    if (!state.acked.has(pop.id) && pop.state !== "ended") {
      // Acked once the card is laid out on screen.
      requestAnimationFrame(() => {
        if (send({ type: "pop.ack", pop_id: pop.id })) state.acked.add(pop.id);
      });
    }
  }

  function renderPop(entry) {
    const pop = entry.pop;
    const el = entry.el;
    const trigger = pop.trigger || {};
    const view = pop.customer_view || null;
    const channel = trigger.channel || "other";
    const stateName = ["ringing", "answered", "ended"].includes(pop.state) ? pop.state : "other";
    el.className = "pop card state-" + stateName;
    el.dataset.state = stateName;
    const name = view && view.customer && view.customer.display_name;
    const titleId = "pop-title-" + cssId(pop.id);
    el.setAttribute("aria-labelledby", titleId);

    const from = addrText(trigger.from);
    const to = addrText(trigger.to);
    const head = h("header.pop-head", null,
      h("span.pop-channel", null, channelIcon(channel)),
      h("div.pop-headline", null,
        h("h3.pop-title", { id: titleId, text: name || from || "Unknown customer" }),
        h("p.pop-route", null,
          h("span.muted", { text: humanKind(trigger.kind) }),
          from ? [" · from ", h("span.addr", { text: from })] : null,
          to ? [" · to ", h("span.addr", { text: to })] : null,
          " · ", timeEl(trigger.at || pop.created_at, "time"))),
      h("span.badge.pop-state.badge-" + stateName, { text: popStateText(pop) }));

    const parts = [head];
    if (pop.state === "ended") {
      parts.push(h("div.pop-ended", null,
        h("p.pop-reason", { text: endReasonText(pop) }),
        h("button.btn.btn-quiet.btn-small.pop-dismiss", { type: "button", data: { focusKey: "dismiss" },
          "aria-label": "Dismiss " + (name || "pop"), on: { click: () => dismissPop(pop.id) } }, "Dismiss")));
    }
    if (channel === "chat" && window.OmnitrailChatConsole) parts.push(window.OmnitrailChatConsole.panelFor(pop)); // chat.js
    if (view) {
      parts.push(renderCustomerView(view, { context: "pop", crm: pop.links && pop.links.crm, onChanged: () => refreshPopView(pop.id) }));
    } else {
      parts.push(h("p.muted", { text: "No customer could be identified for this contact." }));
    }
    replaceKeepingFocus(el, parts);
  }

  function cssId(s) {
    return String(s).replace(/[^A-Za-z0-9_-]/g, "_");
  }

  async function refreshPopView(popId) {
    const entry = state.pops.get(popId);
    if (!entry || !entry.pop.customer_view) return;
    try {
      const view = await api("GET", "/customers/" + encodeURIComponent(entry.pop.customer_view.customer.id));
      entry.pop = Object.assign({}, entry.pop, { customer_view: view });
      renderPop(entry);
    } catch (e) {
      reportError(e, "Refreshing the customer");
    }
  }

  function dismissPop(id) {
    const entry = state.pops.get(id);
    if (!entry) return;
    const next = entry.el.nextElementSibling || entry.el.previousElementSibling;
    entry.dismissed = true;
    entry.el.remove();
    updatePopsEmpty();
    const target = next && next.querySelector("button, a[href]");
    (target || $("search-q")).focus();
  }

  function clearEnded() {
    for (const [id, entry] of state.pops) if (entry.pop.state === "ended" && !entry.dismissed) dismissPop(id);
  }

  function updatePopsEmpty() {
    let visible = 0;
    for (const entry of state.pops.values()) if (!entry.dismissed) visible++;
    $("pops-empty").hidden = visible > 0;
    $("clear-ended").hidden = ![...state.pops.values()].some((e) => !e.dismissed && e.pop.state === "ended");
  }

  // Re-renders a container; when focus was inside, focus goes back to the element with the same
  // data-focus-key so keyboard users are not thrown out by a live update.
  function replaceKeepingFocus(el, children) {
    const active = document.activeElement;
    let key = null;
    if (active && el.contains(active) && active !== el) key = active.dataset.focusKey || null;
    el.replaceChildren(...children.filter(Boolean));
    if (key) {
      const again = el.querySelector('[data-focus-key="' + CSS.escape(key) + '"]');
      (again || el).focus();
    }
  }

  // ---------------------------------------------------------------- customer view

  // Renders a customer view document (customer-view.md). Used for pop cards and the customer panel.
  // opts: {context: "pop"|"panel", crm, onChanged, timeline: {items, cursor}, onMore}
  function renderCustomerView(view, opts) {
    const c = view.customer || {};
    const wrap = h("section.cv", { data: { customerId: c.id || "" } });
    const headingTag = opts.context === "panel" ? "h3" : "h4";

    // On a pop card the card's title already names the customer; the panel has its own heading.
    const nameRow = h("div.cv-name-row", null,
      opts.context === "pop" ? null : h(headingTag + ".cv-name", { text: c.display_name || "Unnamed customer" }),
      h("span.cv-id.muted", { text: c.id || "" }));
    wrap.appendChild(nameRow);
    if (view.merged && view.requested_id) {
      wrap.appendChild(h("p.cv-note", { text: "Record " + view.requested_id + " was merged into this customer." }));
    }

    const links = h("span.cv-links");
    nameRow.appendChild(links);
    const crmUrl = safeHttpUrl(opts.crm || (view.links && view.links.crm));
    if (crmUrl) {
      links.appendChild(h("a.btn.btn-quiet.btn-small.crm-link", { href: crmUrl, target: "_blank", rel: "noopener noreferrer", data: { focusKey: "crm" } }, "Open in CRM ↗"));
    }
    if (opts.context === "pop" && c.id) {
      links.appendChild(h("button.btn.btn-quiet.btn-small", { type: "button", data: { focusKey: "open" },
        on: { click: () => openCustomer(c.id) } }, "Open customer"));
    }

    // Identities
    const ids = Array.isArray(view.identities) ? view.identities : [];
    const idList = h("ul.identities", { "aria-label": "Identifiers" });
    for (const idn of ids) {
      const item = h("li.identity", null,
        h("span.identity-kind", { text: idn.kind || "?" }),
        h("span.identity-value", { text: idn.value || idn.key || "" }),
        h("span.badge.trust-" + (idn.trust === "verified" ? "verified" : "claimed"), { text: idn.trust || "claimed" }));
      if (idn.kind === "phone" && typeof idn.key === "string" && idn.key.startsWith("+")) {
        // Click-to-call: the agent's own phone rings first, then the customer is dialled.
        item.appendChild(h("button.btn.btn-quiet.btn-small.call-button", { type: "button",
          "aria-label": "Call " + idn.key, on: { click: () => placeCall(idn.key) } }, "Call"));
      }
      idList.appendChild(item);
    }
    if (!ids.length) idList.appendChild(h("li.muted", { text: "No identifiers" }));
    wrap.appendChild(idList);

    // Stats
    wrap.appendChild(renderStats(view.stats || {}));

    // Suggestions
    const sugs = Array.isArray(view.suggestions) ? view.suggestions : [];
    if (sugs.length) {
      const list = h("ul.suggestions");
      for (const s of sugs) list.appendChild(renderSuggestion(s, opts));
      wrap.appendChild(h("div.cv-block", null, h("h5.cv-sub", { text: "Possible duplicates" }), list));
    }

    // Reply box (reply.js) and timeline
    const replyForm = opts.context === "panel" && c.id && window.OmnitrailReply
      ? window.OmnitrailReply.box(view, { onSent: () => reloadCustomer() }) : null;
    if (replyForm) wrap.appendChild(h("div.cv-block", null, replyForm));
    const tlOpts = { onChanged: opts.onChanged || reloadCustomer, onReply: replyForm ? (item) => replyForm.setParent(item) : null };
    const tl = opts.timeline ? opts.timeline.items : (Array.isArray(view.recent_interactions) ? view.recent_interactions : []);
    const tlBlock = h("div.cv-block", null, h("h5.cv-sub", { text: "Timeline" }), renderTimeline(tl, tlOpts));
    if (opts.context === "panel" && opts.onMore && (!opts.timeline || opts.timeline.cursor)) {
      if (!opts.timeline && tl.length < 20) {
        // everything is already shown
      } else {
        tlBlock.appendChild(h("button.btn.btn-quiet.btn-small.timeline-more", { type: "button", data: { focusKey: "more" },
          on: { click: opts.onMore } }, "Show older history"));
      }
    }
    wrap.appendChild(tlBlock);
    return wrap;
  }

  async function placeCall(number) {
    try {
      const r = await api("POST", "/calls", { number });
      toast("Calling " + r.number + ": your phone (" + r.extension + ") rings first.", "info");
    } catch (e) {
      toast("Call failed: " + e.message, "error");
    }
  }

  function onCallProgress(msg) {
    const number = typeof msg.number === "string" ? msg.number : "";
    if (msg.state === "answered") announce("Call to " + number + " connected.");
    else if (msg.state === "failed") toast("Call to " + number + " failed: " + (msg.reason || "unknown reason"), "error");
    else if (msg.state === "queued") announce("Call to " + number + " is being placed.");
  }

  function renderStats(s) {
    const byCh = s.contacts_by_channel && typeof s.contacts_by_channel === "object" ? s.contacts_by_channel : {};
    const chans = h("ul.by-channel", { "aria-label": "Contacts per channel" });
    const names = CHANNELS.concat(Object.keys(byCh).filter((k) => !CHANNELS.includes(k)));
    for (const ch of names) {
      const n = Number(byCh[ch] || 0);
      if (!n) continue;
      chans.appendChild(h("li", { title: channelLabel(ch) + ": " + n }, channelIcon(ch), h("span", { text: String(n) })));
    }
    if (!chans.childNodes.length) chans.appendChild(h("li.muted", { text: "none" }));

    const dl = h("dl.stats");
    const row = (label, value) => { dl.appendChild(h("div.stat", null, h("dt", { text: label }), h("dd", null, value))); };
    row("First seen", timeEl(s.first_seen, "date"));
    row("Last contact", timeEl(s.last_contact, "short"));
    row("Contacts 7d / 30d", (s.contacts_7d ?? 0) + " / " + (s.contacts_30d ?? 0));
    row("Preferred", s.preferred_channel ? h("span.pref", null, channelIcon(s.preferred_channel), " ", channelLabel(s.preferred_channel)) : h("span.muted", { text: "—" }));
    const wrap = h("div.cv-stats", null, dl);
    const extra = h("div.cv-stats-line", null, h("span.muted", { text: "By channel" }), chans);
    if (s.repeat_contact) {
      extra.appendChild(h("span.badge.badge-repeat", { text: "Repeat contact", title: "The last two contacts came close together" }));
    }
    wrap.appendChild(extra);
    return wrap;
  }

  function renderSuggestion(s, opts) {
    const evText = (e) => {
      if (e === null || e === undefined) return "";
      if (typeof e === "string" || typeof e === "number") return String(e);
      if (typeof e === "object" && !Array.isArray(e) && (e.key || e.value)) return (e.kind ? e.kind + " " : "") + (e.value || e.key);
      return JSON.stringify(e);
    };
    const evidence = Array.isArray(s.evidence) ? s.evidence.map(evText).filter(Boolean).join(", ") : evText(s.evidence);
    const li = h("li.suggestion", null,
      h("p", null,
        s.other_customer_id ? ["Same person as ", h("span.mono", { text: s.other_customer_id }), "?"] : "Add this identifier?",
        " ", h("span.muted", { text: "(" + (s.reason || "suggested") + (evidence ? ": " + evidence : "") + ")" })));
    const status = h("span.suggestion-status", { role: "status" });
    const decide = async (what, btn) => {
      const container = li.closest("article.pop") || $("customer-panel");
      for (const b of li.querySelectorAll("button")) b.disabled = true;
      try {
        await api("POST", "/suggestions/" + encodeURIComponent(s.id) + "/" + what);
        status.textContent = what === "accept" ? "Merged." : "Rejected.";
        announce(what === "accept" ? "Customers merged" : "Suggestion rejected");
        if (opts.onChanged) await opts.onChanged();
        // the buttons are gone: keep keyboard focus in the card rather than losing it to <body>
        if (container && container.isConnected && (!document.activeElement || document.activeElement === document.body)) container.focus();
      } catch (e) {
        for (const b of li.querySelectorAll("button")) b.disabled = false;
        reportError(e, what === "accept" ? "Accepting the suggestion" : "Rejecting the suggestion");
        btn.focus();
      }
    };
    const accept = h("button.btn.btn-small.btn-primary", { type: "button", data: { focusKey: "sug-accept-" + s.id } }, "Accept");
    const reject = h("button.btn.btn-small.btn-quiet", { type: "button", data: { focusKey: "sug-reject-" + s.id } }, "Reject");
    accept.addEventListener("click", () => decide("accept", accept));
    reject.addEventListener("click", () => decide("reject", reject));
    li.appendChild(h("div.suggestion-actions", null, accept, reject, status));
    return li;
  }

  function renderTimeline(items, opts) {
    const ol = h("ol.timeline");
    for (const it of items) {
      if (!it || typeof it !== "object") continue;
      const from = addrText(it.from);
      const to = addrText(it.to);
      const meta = [];
      if (it.direction === "outbound") meta.push("outbound");
      if (from) meta.push("from " + from);
      if (to) meta.push("to " + to);
      if (it.agent) meta.push("agent " + it.agent);
      ol.appendChild(h("li.tl-item.tl-" + (CHANNELS.includes(it.channel) ? it.channel : "other"), { data: { interactionId: it.id || "" } },
        h("span.tl-icon", null, channelIcon(it.channel)),
        h("div.tl-body", null,
          h("p.tl-line", null, h("span.tl-kind", { text: humanKind(it.kind) }), " ", h("span.tl-time", null, timeEl(it.occurred_at))),
          meta.length ? h("p.tl-meta.muted", { text: meta.join(" · ") }) : null,
          it.subject ? h("p.tl-subject", { text: it.subject }) : null,
          it.text ? h("p.tl-text", { text: it.text + (it.text_truncated ? " …" : "") }) : null)));
      if (window.OmnitrailReply) window.OmnitrailReply.decorate(ol.lastChild, it, opts || {}); // reply.js
    }
    if (!ol.childNodes.length) ol.appendChild(h("li.muted", { text: "No interactions yet." }));
    return ol;
  }

  // ---------------------------------------------------------------- search

  async function onSearch(ev) {
    ev.preventDefault();
    const q = $("search-q").value.trim();
    $("search-error").textContent = "";
    if (!q) {
      $("search-error").textContent = "Type a phone number, an email or a name.";
      return;
    }
    state.search = { q, cursor: null };
    $("results").replaceChildren();
    await loadResults(true);
  }

  async function loadResults(first) {
    const { q, cursor } = state.search;
    let page;
    try {
      page = await api("GET", "/customers?q=" + encodeURIComponent(q) + "&limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    } catch (e) {
      $("search-error").textContent = e.message;
      return;
    }
    if (q !== state.search.q) return; // a newer search started meanwhile
    const items = Array.isArray(page && page.items) ? page.items : [];
    const list = $("results");
    let firstNew = null;
    for (const item of items) {
      const idents = Array.isArray(item.identities) ? item.identities : [];
      const btn = h("button.result", { type: "button", data: { customerId: item.id } },
        h("span.result-name", { text: item.display_name || "Unnamed customer" }),
        h("span.result-ids.muted", { text: idents.slice(0, 3).map((i) => i.value || i.key).join(" · ") || item.id }));
      btn.addEventListener("click", () => openCustomer(item.id));
      const li = h("li", null, btn);
      list.appendChild(li);
      if (!firstNew) firstNew = btn;
    }
    state.search.cursor = page && page.next_cursor ? page.next_cursor : null;
    $("results-more").hidden = !state.search.cursor;
    const n = list.childElementCount;
    $("results-count").textContent = n === 0 ? "No customer matches “" + q + "”." : n + (state.search.cursor ? "+" : "") + (n === 1 ? " customer" : " customers");
    $("results-wrap").hidden = false;
    if (!first && firstNew) firstNew.focus();
  }

  // ---------------------------------------------------------------- customer panel

  async function openCustomer(id) {
    let view;
    try {
      view = await api("GET", "/customers/" + encodeURIComponent(id));
    } catch (e) {
      reportError(e, "Opening the customer");
      return;
    }
    state.customer = { id: view.customer.id, view, timeline: null };
    renderCustomerPanel();
    const panel = $("customer-panel");
    panel.hidden = false;
    panel.scrollIntoView({ block: "start", behavior: "smooth" });
    const heading = panel.querySelector(".cv-name");
    if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
  }

  async function reloadCustomer() {
    if (!state.customer) return;
    try {
      const view = await api("GET", "/customers/" + encodeURIComponent(state.customer.id));
      state.customer = { id: view.customer.id, view, timeline: null };
      renderCustomerPanel();
    } catch (e) {
      reportError(e, "Refreshing the customer");
    }
  }

  async function loadMoreTimeline() {
    const cust = state.customer;
    if (!cust) return;
    const cursor = cust.timeline ? cust.timeline.cursor : null;
    let page;
    try {
      page = await api("GET", "/customers/" + encodeURIComponent(cust.id) + "/timeline?limit=50" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    } catch (e) {
      reportError(e, "Loading the history");
      return;
    }
    if (state.customer !== cust) return;
    const items = (cust.timeline ? cust.timeline.items : []).concat(Array.isArray(page.items) ? page.items : []);
    cust.timeline = { items, cursor: page.next_cursor || null };
    renderCustomerPanel();
  }

  function renderCustomerPanel() {
    const cust = state.customer;
    const body = $("customer-body");
    if (!cust) { body.replaceChildren(); return; }
    const view = cust.view;
    $("customer-panel-title").textContent = "Customer " + ((view.customer && view.customer.display_name) || cust.id);
    const cv = renderCustomerView(view, { context: "panel", timeline: cust.timeline, onChanged: reloadCustomer, onMore: loadMoreTimeline });
    // The note form goes before the timeline.
    const noteForm = renderNoteForm(cust);
    const timelineBlock = cv.querySelector(".cv-block:last-child");
    cv.insertBefore(noteForm, timelineBlock);
    replaceKeepingFocus(body, [cv]);
  }

  function renderNoteForm(cust) {
    const fid = "note-text";
    const textarea = h("textarea", { id: fid, name: "text", rows: "3", maxlength: "10000", required: true, data: { focusKey: "note-text" } });
    const submit = h("button.btn.btn-primary.btn-small", { type: "submit", data: { focusKey: "note-submit" } }, "Add note");
    const err = h("p.form-error", { role: "alert" });
    const form = h("form.note-form", { novalidate: true },
      h("label", { for: fid, text: "Add a note" }), textarea, h("div.note-actions", null, submit), err);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = textarea.value.trim();
      err.textContent = "";
      if (!text) { err.textContent = "Write something first."; textarea.focus(); return; }
      submit.disabled = true;
      try {
        await api("POST", "/interactions", {
          channel: "note", kind: "note", external_id: newUuid(), customer_id: cust.id, text,
        });
      } catch (e) {
        submit.disabled = false;
        err.textContent = e.message;
        return;
      }
      announce("Note added");
      await reloadCustomer();
      const again = document.querySelector('#customer-body [data-focus-key="note-text"]');
      if (again) again.focus();
    });
    return form;
  }

  function newUuid() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; on plain http over a LAN address use getRandomValues.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function closeCustomer() {
    state.customer = null;
    $("customer-body").replaceChildren();
    $("customer-panel").hidden = true;
  }

  // ---------------------------------------------------------------- start

  function init() {
    // What the console's add-on scripts (reply.js, chat.js) may use.
    window.OmnitrailConsole = { api, send, h, toast, announce, newUuid, agent: () => state.agent };
    $("signin-form").addEventListener("submit", onSignIn);
    $("sign-out").addEventListener("click", () => signOut(""));
    $("search-form").addEventListener("submit", onSearch);
    $("results-more").addEventListener("click", () => loadResults(false));
    $("customer-close").addEventListener("click", () => { closeCustomer(); $("search-q").focus(); });
    $("clear-ended").addEventListener("click", clearEnded);
    for (const input of document.querySelectorAll('input[name="presence"]')) input.addEventListener("change", onPresenceChange);
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !$("customer-panel").hidden && $("customer-panel").contains(document.activeElement)) {
        closeCustomer();
        $("search-q").focus();
      }
    });
    updatePopsEmpty();
    let token = null;
    try { token = sessionStorage.getItem(TOKEN_KEY); } catch (_) { token = null; }
    if (token) startSession(token);
    else $("token").focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
