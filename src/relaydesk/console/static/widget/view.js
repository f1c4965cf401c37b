// Relaydesk web chat: the widget's DOM (inside a shadow root) and the message list.

export const LABELS = {
  open: "Open chat",
  close: "Close chat",
  human: "Talk to a person",
  humanAsked: "A person has been asked",
  humanText: "I would like to talk to a person, please.",
  messages: "Messages",
  message: "Message",
  placeholder: "Write a message…",
  send: "Send",
  you: "You",
  agent: "Support",
  bot: "Assistant (bot)",
  sending: "Sending…",
  waiting: "Waiting for connection",
  sent: "Sent",
  notSent: "Not sent",
  typing: "Support is typing…",
  status: {
    connecting: "Connecting…",
    online: "Online",
    reconnecting: "Reconnecting…",
    offline: "Offline. Messages will be sent when you are back.",
  },
};

const ICONS = {
  chat: '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z" fill="currentColor"/></svg>',
  close: '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/></svg>',
  send: '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M3 20.5l18-8.5L3 3.5l2.5 7L15 12l-9.5 1.5z" fill="currentColor"/></svg>',
  person: '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="12" cy="8" r="4" fill="currentColor"/><path d="M4 21a8 8 0 0 1 16 0z" fill="currentColor"/></svg>',
};

/** Create an element: el("p", {class: "x", text: "hi"}, child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value; // only our own constant icons
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter(Boolean));
  return node;
}

export function buildShell(shadow, cssHref) {
  const css = el("link", { rel: "stylesheet", href: cssHref });
  const launcher = el(
    "button",
    { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "rd-panel" },
    el("span", { class: "launcher-icon", html: ICONS.chat }),
    el("span", { class: "badge", hidden: true, "aria-hidden": "true" }),
  );
  launcher.setAttribute("aria-label", LABELS.open);
  const title = el("h2", { id: "rd-title", class: "title" });
  const status = el("p", { class: "status", role: "status" });
  const close = el("button", { class: "icon-button close", type: "button", html: ICONS.close });
  close.setAttribute("aria-label", LABELS.close);
  const human = el(
    "button",
    { class: "human", type: "button" },
    el("span", { class: "human-icon", html: ICONS.person }),
    el("span", { class: "human-label", text: LABELS.human }),
  );
  const log = el("div", {
    class: "log",
    role: "log",
    "aria-live": "polite",
    "aria-label": LABELS.messages,
    tabindex: "0",
  });
  const typing = el("p", { class: "typing", hidden: true, text: LABELS.typing });
  const quick = el("div", { class: "quick", hidden: true });
  const email = el("div", { class: "email-area" });
  const text = el("textarea", {
    id: "rd-text",
    rows: "1",
    placeholder: LABELS.placeholder,
    autocomplete: "off",
  });
  const send = el("button", { class: "send", type: "submit", html: ICONS.send });
  send.setAttribute("aria-label", LABELS.send);
  const composer = el(
    "form",
    { class: "composer" },
    el("label", { for: "rd-text", class: "sr-only", text: LABELS.message }),
    text,
    send,
  );
  const panel = el(
    "section",
    { id: "rd-panel", class: "panel", role: "dialog", "aria-labelledby": "rd-title", hidden: true },
    el(
      "header",
      { class: "head" },
      el("div", { class: "titles" }, title, status),
      close,
    ),
    el("div", { class: "human-bar" }, human),
    log,
    typing,
    quick,
    email,
    composer,
  );
  shadow.append(css, launcher, panel);
  return { css, launcher, panel, title, status, close, human, log, typing, quick, email, text, composer };
}

function timeOf(iso) {
  const when = iso ? new Date(iso) : new Date();
  return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** The message list: entries keyed by the visitor's client_msg_id or the hub's id. */
export class MessageList {
  constructor(log) {
    this.log = log;
    this.entries = new Map();
    this.ids = new Map(); // hub id -> key
  }

  keyOf(message) {
    return message.client_msg_id || message.id;
  }

  has(message) {
    return this.entries.has(this.keyOf(message)) || (message.id && this.ids.has(message.id));
  }

  upsert(message, state) {
    const key = this.ids.get(message.id) || this.keyOf(message);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = this.create(message);
      this.entries.set(key, entry);
      this.place(entry);
    }
    if (message.id) {
      entry.data.id = message.id;
      this.ids.set(message.id, key);
      entry.node.dataset.id = message.id;
    }
    if (state) entry.pending = state === "sending" || state === "waiting";
    if (message.created_at && !entry.pending) entry.data.created_at = message.created_at;
    this.setState(entry, state);
    return entry;
  }

  create(message) {
    const from = message.from || "visitor";
    const node = el("div", { class: `msg from-${from}` });
    const who = from === "visitor" ? LABELS.you : from === "bot" ? LABELS.bot : LABELS.agent;
    if (from === "system") {
      node.append(el("p", { class: "bubble", text: message.text }));
    } else {
      node.append(
        el("span", { class: from === "visitor" ? "who sr-only" : "who", text: who }),
        el("p", { class: "bubble", text: message.text }),
      );
    }
    const meta = el("span", { class: "meta", text: timeOf(message.created_at || message.at) });
    node.append(meta);
    if (message.human_request || (message.meta && message.meta.human_request)) {
      node.classList.add("human-request");
    }
    const pending = !message.id;
    return { node, meta, data: { ...message, created_at: message.created_at || null }, pending };
  }

  place(entry) {
    // Stored messages in hub order; pending ones (no created_at yet) stay at the end.
    const at = entry.data.created_at;
    if (at) {
      for (const other of this.entries.values()) {
        if (other === entry || !other.node.isConnected) continue;
        const otherAt = other.data.created_at;
        if (!otherAt || otherAt > at) {
          this.log.insertBefore(entry.node, other.node);
          return;
        }
      }
    }
    this.log.append(entry.node);
  }

  setState(entry, state) {
    if (!state) return;
    entry.pending = state === "sending" || state === "waiting";
    const text = {
      sending: LABELS.sending,
      waiting: LABELS.waiting,
      sent: LABELS.sent,
    }[state];
    const time = timeOf(entry.data.created_at || entry.data.at);
    if (state === "failed") {
      entry.node.classList.add("failed");
      entry.meta.textContent = `${LABELS.notSent}: ${entry.failure || ""}`.trim();
    } else {
      entry.node.classList.toggle("pending", entry.pending);
      entry.meta.textContent = text ? `${time} · ${text}` : time;
    }
  }

  fail(clientMsgId, detail) {
    const entry = this.entries.get(clientMsgId);
    if (!entry) return;
    entry.failure = detail;
    this.setState(entry, "failed");
  }
}
