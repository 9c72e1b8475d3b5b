// Agent console add-on: reply to the customer by email or SMS from the customer panel
// (POST /api/v1/messages, docs/messages.md), a "Reply" button on inbound email / SMS timeline
// items, and the delivery status of outbound messages (queued, sent, delivered, failed + Retry).
// Uses what console.js exposes as window.OmnitrailConsole; dependency-free.
(function () {
  "use strict";

  const STATUS_TEXT = {
    queued: "Queued", sending: "Sending…", sent: "Sent", delivered: "Delivered", failed: "Failed",
  };

  function C() { return window.OmnitrailConsole; }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // The reply form of one customer. `state.parent` is the interaction being answered (or null).
  function box(view, opts) {
    const { h, api, toast, announce } = C();
    const customer = (view && view.customer) || {};
    const ids = Array.isArray(view && view.identities) ? view.identities : [];
    const hasEmail = ids.some((i) => i.kind === "email");
    const hasPhone = ids.some((i) => i.kind === "phone");
    const state = { parent: null, key: newKey() };

    const channel = h("select.reply-channel", { "aria-label": "Reply channel", name: "channel" },
      h("option", { value: "email", text: "Email" }), h("option", { value: "sms", text: "SMS" }));
    channel.value = hasEmail || !hasPhone ? "email" : "sms";
    const to = h("input.reply-to", { type: "text", name: "to", "aria-label": "To", placeholder: "To (default: the customer)", autocomplete: "off" });
    const subject = h("input.reply-subject", { type: "text", name: "subject", "aria-label": "Subject", placeholder: "Subject (default: Re: …)", autocomplete: "off" });
    const text = h("textarea.reply-text", { name: "text", rows: "4", "aria-label": "Message", placeholder: "Write a reply…", required: "" });
    const context = h("p.reply-context.muted", { text: "New message" });
    const send = h("button.btn.btn-primary.btn-small.reply-send", { type: "submit" }, "Send");
    const clear = h("button.btn.btn-quiet.btn-small.reply-clear", { type: "button", on: { click: () => setParent(null) } }, "New message");

    function syncFields() {
      subject.hidden = channel.value !== "email";
    }
    channel.addEventListener("change", syncFields);
    syncFields();

    function setParent(item) {
      state.parent = item;
      state.key = newKey();
      if (item) {
        channel.value = item.channel === "sms" ? "sms" : "email";
        context.textContent = "Replying to " + (item.channel === "sms" ? "the SMS" : "“" + (item.subject || "the email") + "”");
      } else {
        context.textContent = "New message";
      }
      syncFields();
      text.focus();
    }

    const form = h("form.reply-box", { "aria-label": "Reply to the customer", on: { submit: onSubmit } },
      h("h5.cv-sub", { text: "Reply" }), context,
      h("div.reply-row", null, channel, to), subject, text,
      h("div.reply-actions", null, send, clear));
    form.setParent = setParent;

    async function onSubmit(ev) {
      ev.preventDefault();
      if (!text.value.trim()) { text.focus(); return; }
      const body = { customer_id: customer.id, channel: channel.value, text: text.value };
      if (state.parent && state.parent.id) body.in_reply_to = state.parent.id;
      if (to.value.trim()) body.to = to.value.trim();
      if (channel.value === "email" && subject.value.trim()) body.subject = subject.value.trim();
      send.disabled = true;
      try {
        // The key makes a double click or a retried request one message, not two.
        const m = await api("POST", "/messages", body, undefined, { "Idempotency-Key": state.key });
        toast("Reply queued (" + m.channel + " to " + (m.to || "the customer") + ").", "info");
        announce("Reply queued");
        text.value = "";
        subject.value = "";
        to.value = "";
        state.key = newKey();
        if (opts && opts.onSent) opts.onSent(m);
      } catch (e) {
        toast("Could not send: " + ((e && e.message) || e), "error");
      } finally {
        send.disabled = false;
      }
    }
    return form;
  }

  // Adds the delivery status (outbound) or a Reply button (inbound email / SMS) to a timeline item.
  function decorate(li, item, opts) {
    const { h, api, toast } = C();
    const delivery = item && item.metadata && item.metadata.delivery;
    if (item.direction === "outbound" && delivery && delivery.status) {
      const status = String(delivery.status);
      const badge = h("span.badge.delivery.delivery-" + (STATUS_TEXT[status] ? status : "other"),
        { text: STATUS_TEXT[status] || status, title: delivery.error || "" });
      const line = li.querySelector(".tl-line");
      (line || li).appendChild(badge);
      if (status === "failed" && delivery.message_id) {
        (line || li).appendChild(h("button.btn.btn-quiet.btn-small.delivery-retry", { type: "button",
          "aria-label": "Retry sending", on: { click: async () => {
            try {
              await api("POST", "/messages/" + encodeURIComponent(delivery.message_id) + "/retry");
              toast("Queued again.", "info");
              if (opts && opts.onChanged) opts.onChanged();
            } catch (e) {
              toast("Could not retry: " + ((e && e.message) || e), "error");
            }
          } } }, "Retry"));
      }
    }
    if (item.direction === "inbound" && (item.channel === "email" || item.channel === "sms") && opts && opts.onReply) {
      const line = li.querySelector(".tl-line");
      (line || li).appendChild(h("button.btn.btn-quiet.btn-small.tl-reply", { type: "button",
        "aria-label": "Reply to this " + (item.channel === "sms" ? "SMS" : "email"), on: { click: () => opts.onReply(item) } }, "Reply"));
    }
  }

  window.OmnitrailReply = { box, decorate };
})();
