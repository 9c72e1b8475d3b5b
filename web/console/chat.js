// Web chat in the agent console: a chat panel on every chat pop card (the transcript, a reply
// box, the visitor's typing, transfer and end). console.js hands it the chat.* frames of the
// agent WebSocket (onMessage) and asks it for the panel of a chat pop (panelFor); it uses
// window.OmnitrailConsole (api, send, h, toast, announce, newUuid, agent) and nothing else.
// Replies go through POST /api/v1/messages (durable, idempotent); typing, end and transfer are
// agent WebSocket frames (docs/agent-protocol.md "Chat messages"). Text is inserted as text only.
(function () {
  "use strict";

  const chats = new Map(); // chat_id -> chat entry (see entry())
  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

  function C() {
    return window.OmnitrailConsole;
  }

  function cssId(s) {
    return String(s).replace(/[^A-Za-z0-9_-]/g, "_");
  }

  // One chat's state and its DOM, which lives across re-renders of the pop card (the card moves
  // the same panel node, so a half-written reply survives a pop.updated).
  function entry(chatId) {
    let c = chats.get(chatId);
    if (c) return c;
    const h = C().h;
    c = {
      id: chatId,
      customerId: null,
      ended: false,
      endReason: "",
      messages: [],         // [{id, from, text, at}], in order
      byId: new Map(),
      delivered: new Set(),
      pending: new Map(),   // idempotency key -> {text, id (once known), el}
      lastTyping: 0,
      typingTimer: null,
      historyLoaded: false,
    };
    const fid = "chat-reply-" + cssId(chatId);
    c.list = h("ol.chat-log", { "aria-label": "Chat messages", "aria-live": "polite" });
    c.typing = h("p.chat-typing", { "aria-live": "polite" });
    c.input = h("textarea.chat-input", { id: fid, rows: "2", maxlength: "4000", data: { focusKey: "chat-reply" },
      placeholder: "Reply to the visitor…" });
    c.sendButton = h("button.btn.btn-primary.btn-small.chat-send", { type: "submit", data: { focusKey: "chat-send" } }, "Send");
    c.form = h("form.chat-reply", { novalidate: true },
      h("label.sr-only", { for: fid, text: "Reply" }), c.input, c.sendButton);
    c.transferInput = h("input.chat-transfer-to", { type: "text", maxlength: "64", "aria-label": "Transfer to agent (id)",
      placeholder: "agent id", data: { focusKey: "chat-transfer-to" }, spellcheck: "false", autocomplete: "off" });
    c.transferButton = h("button.btn.btn-quiet.btn-small.chat-transfer", { type: "button", data: { focusKey: "chat-transfer" } }, "Transfer");
    c.endButton = h("button.btn.btn-quiet.btn-small.chat-end", { type: "button", data: { focusKey: "chat-end" } }, "End chat");
    c.status = h("p.chat-status", { role: "status" });
    c.actions = h("div.chat-actions", null, c.transferInput, c.transferButton, c.endButton);
    c.el = h("section.chat-panel", { "aria-label": "Chat", data: { chatId } },
      h("h4.cv-sub", { text: "Chat" }), c.list, c.typing, c.form, c.actions, c.status);

    c.form.addEventListener("submit", (ev) => { ev.preventDefault(); sendReply(c); });
    c.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendReply(c); }
    });
    c.input.addEventListener("input", () => {
      const now = Date.now();
      if (!c.ended && c.input.value && now - c.lastTyping > 2000) {
        c.lastTyping = now;
        C().send({ type: "chat.typing", chat_id: c.id });
      }
    });
    c.endButton.addEventListener("click", () => {
      if (c.ended) return;
      if (!C().send({ type: "chat.end", chat_id: c.id })) C().toast("Not connected: the chat was not ended.", "error");
    });
    c.transferButton.addEventListener("click", () => {
      const to = c.transferInput.value.trim();
      if (!to) { c.transferInput.focus(); return; }
      if (C().send({ type: "chat.transfer", chat_id: c.id, to_agent: to })) {
        c.status.textContent = "Transferring to " + to + "…";
        c.transferInput.value = "";
      } else {
        C().toast("Not connected: the chat was not transferred.", "error");
      }
    });
    chats.set(chatId, c);
    renderEmpty(c);
    return c;
  }

  function renderEmpty(c) {
    if (!c.messages.length && !c.pending.size && !c.list.childElementCount) {
      c.list.appendChild(C().h("li.chat-empty.muted", { text: "No messages yet." }));
    }
  }

  function lineEl(m) {
    const h = C().h;
    const mine = m.from !== "visitor";
    const who = m.from === "visitor" ? "Visitor" : (C().agent() && C().agent().id === m.from ? "You" : m.from);
    const at = m.at ? new Date(m.at) : null;
    const li = h("li.chat-line." + (mine ? "from-agent" : "from-visitor"), { data: { messageId: m.id } },
      h("span.chat-who", { text: who }),
      h("p.chat-text", { text: m.text }),
      h("span.chat-meta.muted", { text: (at && !isNaN(at.getTime()) ? timeFmt.format(at) : "") }));
    m.el = li;
    markDelivered(null, m);
    return li;
  }

  function markDelivered(c, m) {
    if (!m.el || m.from === "visitor") return;
    const meta = m.el.querySelector(".chat-meta");
    if (meta && m.delivered && !meta.textContent.endsWith("✓")) meta.textContent += " · delivered ✓";
  }

  function addMessage(c, raw) {
    if (!raw || typeof raw.id !== "string" || typeof raw.text !== "string") return;
    if (c.byId.has(raw.id)) return;
    if (raw.delivered === true) c.delivered.add(raw.id);
    const m = { id: raw.id, from: typeof raw.from === "string" ? raw.from : "visitor", text: raw.text, at: raw.at,
                delivered: c.delivered.has(raw.id) };
    c.byId.set(m.id, m);
    c.messages.push(m);
    const empty = c.list.querySelector(".chat-empty");
    if (empty) empty.remove();
    // Our own reply arrives as it was stored: the "sending" line it replaces goes.
    for (const [key, p] of c.pending) {
      if (p.id === m.id) { if (p.el) p.el.remove(); c.pending.delete(key); }
    }
    const firstPending = c.list.querySelector(".chat-line.pending");
    c.list.insertBefore(lineEl(m), firstPending);
    c.list.scrollTop = c.list.scrollHeight;
    if (m.from === "visitor") {
      c.typing.textContent = "";
      C().announce("Chat message from the visitor: " + m.text.slice(0, 80));
    }
  }

  function setHistory(c, messages) {
    c.historyLoaded = true;
    for (const m of messages) addMessage(c, m);
  }

  function setEnded(c, reason) {
    c.ended = true;
    c.endReason = reason || c.endReason;
    c.input.disabled = true;
    c.sendButton.disabled = true;
    c.endButton.disabled = true;
    c.transferButton.disabled = true;
    c.transferInput.disabled = true;
    c.typing.textContent = "";
    const why = { visitor: "The visitor ended the chat.", agent: "The chat was ended.", idle: "The chat ended after inactivity.",
                  transferred: "The chat was transferred to another agent." }[c.endReason] || "The chat has ended.";
    c.status.textContent = why;
  }

  async function sendReply(c) {
    const text = c.input.value.trim();
    if (!text || c.ended) return;
    if (!c.customerId) { C().toast("The customer of this chat is not known yet.", "error"); return; }
    const key = C().newUuid();
    const h = C().h;
    const el = h("li.chat-line.from-agent.pending", null, h("span.chat-who", { text: "You" }), h("p.chat-text", { text }),
      h("span.chat-meta.muted", { text: "Sending…" }));
    const empty = c.list.querySelector(".chat-empty");
    if (empty) empty.remove();
    c.list.appendChild(el);
    c.list.scrollTop = c.list.scrollHeight;
    c.pending.set(key, { text, id: null, el });
    c.input.value = "";
    try {
      const r = await C().api("POST", "/messages", { customer_id: c.customerId, channel: "chat", to: c.id, text }, undefined,
        { "Idempotency-Key": key });
      const p = c.pending.get(key);
      if (!p) return;
      p.id = r && r.id;
      if (p.id && c.byId.has(p.id)) { el.remove(); c.pending.delete(key); return; }  // its echo came first
      const meta = el.querySelector(".chat-meta");
      if (meta) meta.textContent = "Queued";  // stored; shown here once the visitor has it
    } catch (e) {
      const meta = el.querySelector(".chat-meta");
      if (meta) meta.textContent = "Not sent: " + e.message;
      el.classList.add("failed");
      c.pending.delete(key);
      if (!c.input.value) c.input.value = text;
      C().toast("The reply was not sent: " + e.message, "error");
    }
  }

  // The console asks for the chat panel of a chat pop card.
  function panelFor(pop) {
    if (!pop || !pop.conversation_id) return null;
    const c = entry(pop.conversation_id);
    const view = pop.customer_view;
    if (view && view.customer && view.customer.id) c.customerId = view.customer.id;
    if (pop.state === "ended") setEnded(c, pop.end_reason === "transferred" ? "transferred" : c.endReason);
    return c.el;
  }

  function onMessage(msg) {
    if (typeof msg.chat_id !== "string") return;
    const c = entry(msg.chat_id);
    switch (msg.type) {
      case "chat.history":
        if (typeof msg.customer_id === "string" && msg.customer_id) c.customerId = msg.customer_id;
        setHistory(c, Array.isArray(msg.messages) ? msg.messages : []);
        break;
      case "chat.message":
        addMessage(c, msg.message);
        break;
      case "chat.typing":
        c.typing.textContent = "The visitor is typing…";
        clearTimeout(c.typingTimer);
        c.typingTimer = setTimeout(() => { c.typing.textContent = ""; }, 5000);
        break;
      case "chat.delivered":
        for (const id of Array.isArray(msg.message_ids) ? msg.message_ids : []) {
          c.delivered.add(id);
          const m = c.byId.get(id);
          if (m) { m.delivered = true; markDelivered(c, m); }
        }
        break;
      case "chat.ended":
        setEnded(c, msg.reason);
        break;
      default:
        break;
    }
  }

  window.OmnitrailChatConsole = { panelFor, onMessage };
})();
