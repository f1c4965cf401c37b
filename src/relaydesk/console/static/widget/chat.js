// Relaydesk web chat widget: a launcher and a chat panel in a shadow root, so the host
// page's styles neither leak in nor out. Loaded by widget.js (see docs/channels/webchat.md).

import { ChatConnection } from "./connection.js?v=__VERSION__";
import { EmailArea } from "./email.js?v=__VERSION__";
import { LABELS, MessageList, buildShell, el } from "./view.js?v=__VERSION__";

const RECEIPT_DELAY_MS = 300;
const TYPING_SHOWN_MS = 6000;

class ChatWidget {
  constructor({ base, channel, version }) {
    this.base = base;
    this.connection = new ChatConnection({ base, channel });
    this.store = this.connection.store;
    this.host = el("div", { "data-relaydesk-widget": channel });
    this.host.style.cssText = "all: initial; visibility: hidden;";
    const shadow = this.host.attachShadow({ mode: "open" });
    this.ui = buildShell(shadow, new URL(`widget/widget.css?v=${version}`, base).href);
    this.ui.css.addEventListener("load", () => (this.host.style.visibility = "visible"), { once: true });
    this.list = new MessageList(this.ui.log);
    this.email = new EmailArea(this.ui.email, this.connection);
    this.receipts = { delivered: new Set(), read: new Set() };
    this.acknowledged = { delivered: new Set(), read: new Set() };
    this.unread = new Set();
    this.limit = 2000;
    this.bind();
    document.body.append(this.host);
    for (const item of this.connection.outbox) this.showOwn(item, "waiting");
    if (this.store.get("open", false)) this.open(false);
    this.connection.start();
  }

  bind() {
    const { launcher, close, human, composer, text, panel } = this.ui;
    const c = this.connection;
    launcher.addEventListener("click", () => (this.isOpen() ? this.close() : this.open()));
    close.addEventListener("click", () => this.close());
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    human.addEventListener("click", () => this.askForPerson());
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    text.addEventListener("input", () => {
      this.grow();
      const now = Date.now();
      if (text.value && now - (this.typedAt || 0) > 3000) {
        this.typedAt = now;
        c.request({ type: "typing", on: true });
      }
    });
    document.addEventListener("visibilitychange", () => this.markRead());
    c.addEventListener("status", (e) => this.showStatus(e.detail));
    c.addEventListener("welcome", (e) => this.welcome(e.detail));
    c.addEventListener("history", (e) => this.history(e.detail));
    c.addEventListener("message", (e) => this.incoming(e.detail));
    c.addEventListener("ack", (e) => this.acked(e.detail));
    c.addEventListener("failed", (e) => this.list.fail(e.detail.client_msg_id, e.detail.detail));
    c.addEventListener("email_status", (e) => this.email.update(e.detail));
    c.addEventListener("typing", (e) => this.typing(e.detail));
    c.addEventListener("error", (e) => {
      if (this.email.handles(e.detail)) this.email.showError(e.detail);
    });
  }

  isOpen() {
    return !this.ui.panel.hidden;
  }

  open(focus = true) {
    const { panel, launcher, text } = this.ui;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    this.host.toggleAttribute("data-open", true);
    this.store.set("open", true);
    this.scrollDown(true);
    this.markRead();
    if (focus) text.focus();
  }

  close() {
    const { panel, launcher } = this.ui;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    this.host.toggleAttribute("data-open", false);
    this.store.set("open", false);
    launcher.focus();
  }

  showStatus(status) {
    this.ui.status.textContent = LABELS.status[status] || status;
    this.ui.panel.dataset.status = status;
    const state = status === "online" ? "sending" : "waiting";
    for (const item of this.connection.outbox) this.showOwn(item, state);
  }

  welcome(frame) {
    const { channel, limits } = frame;
    this.ui.title.textContent = channel.title;
    this.ui.launcher.setAttribute("aria-label", `${LABELS.open}: ${channel.title}`);
    this.host.style.setProperty("--rd-accent", channel.color);
    this.limit = limits.max_text_length;
    this.ui.text.maxLength = this.limit;
    if (channel.greeting && !this.greeting) {
      this.greeting = el("p", { class: "greeting", text: channel.greeting });
      this.ui.log.prepend(this.greeting);
    }
    this.email.configure(channel, frame.email);
  }

  history(frame) {
    this.ui.log.setAttribute("aria-busy", "true");
    for (const message of frame.messages) this.show(message);
    for (const item of this.connection.outbox) this.showOwn(item, "sending");
    this.ui.log.removeAttribute("aria-busy");
    this.scrollDown(true);
    this.sendReceipts();
  }

  show(message) {
    const fresh = !this.list.has(message);
    this.list.upsert(message, message.from === "visitor" ? "sent" : null);
    if (message.from !== "visitor" && message.from !== "system") {
      if (message.status === "sent") this.receipts.delivered.add(message.id);
      if (message.status !== "read" && !this.acknowledged.read.has(message.id)) {
        this.unread.add(message.id);
      }
      if (fresh && (message.choices || message.buttons)) {
        this.quickReplies(message.choices || message.buttons.map((title) => ({ title })));
      }
    }
    return fresh;
  }

  incoming(message) {
    const fresh = this.show(message);
    if (fresh) {
      this.ui.typing.hidden = true;
      this.scrollDown();
    }
    this.markRead();
    this.updateBadge();
    this.sendReceipts();
  }

  showOwn(item, state) {
    this.list.upsert({ ...item, from: "visitor" }, state);
  }

  acked(frame) {
    this.list.upsert({ client_msg_id: frame.client_msg_id, id: frame.id, created_at: frame.created_at }, "sent");
  }

  submit() {
    const text = this.ui.text.value.trim();
    if (!text) return;
    if (text.length > this.limit) {
      this.ui.status.textContent = `Messages are at most ${this.limit} characters.`;
      return;
    }
    this.ui.text.value = "";
    this.grow();
    this.post(text);
  }

  post(text, meta) {
    const item = this.connection.sendMessage(text, meta);
    this.showOwn(item, this.connection.ready ? "sending" : "waiting");
    this.ui.quick.hidden = true;
    this.scrollDown(true);
  }

  askForPerson() {
    this.post(LABELS.humanText, { human_request: true });
    this.ui.human.classList.add("asked");
    this.ui.human.querySelector(".human-label").textContent = LABELS.humanAsked;
    clearTimeout(this.humanTimer);
    this.humanTimer = setTimeout(() => {
      this.ui.human.classList.remove("asked");
      this.ui.human.querySelector(".human-label").textContent = LABELS.human;
    }, 8000);
  }

  /** Reply buttons: a press sends the title as the visitor's message, with the button's
   * id (when it has one) so the bot knows which choice it was. */
  quickReplies(buttons) {
    const { quick } = this.ui;
    quick.replaceChildren(
      ...buttons.map(({ id, title }) => {
        const button = el("button", { type: "button", class: "chip", text: title });
        button.addEventListener("click", () => this.post(title, id ? { button: id } : undefined));
        return button;
      }),
    );
    quick.hidden = buttons.length === 0;
  }

  typing(frame) {
    this.ui.typing.hidden = !frame.on;
    clearTimeout(this.typingTimer);
    if (frame.on) this.typingTimer = setTimeout(() => (this.ui.typing.hidden = true), TYPING_SHOWN_MS);
  }

  markRead() {
    if (!this.isOpen() || document.visibilityState !== "visible") return;
    for (const id of this.unread) this.receipts.read.add(id);
    this.unread.clear();
    this.updateBadge();
    this.sendReceipts();
  }

  sendReceipts() {
    clearTimeout(this.receiptTimer);
    this.receiptTimer = setTimeout(() => {
      for (const status of ["delivered", "read"]) {
        const ids = [...this.receipts[status]].filter((id) => !this.acknowledged[status].has(id));
        if (ids.length === 0) continue;
        if (this.connection.request({ type: "receipt", status, ids: ids.slice(0, 100) })) {
          for (const id of ids.slice(0, 100)) this.acknowledged[status].add(id);
          this.receipts[status].clear();
        }
      }
    }, RECEIPT_DELAY_MS);
  }

  updateBadge() {
    const badge = this.ui.launcher.querySelector(".badge");
    const count = this.isOpen() ? 0 : this.unread.size;
    badge.hidden = count === 0;
    badge.textContent = count > 9 ? "9+" : String(count);
    const title = this.ui.title.textContent;
    const label = `${LABELS.open}${title ? `: ${title}` : ""}`;
    this.ui.launcher.setAttribute("aria-label", count ? `${label} (${count} new)` : label);
  }

  grow() {
    const { text } = this.ui;
    text.style.height = "auto";
    text.style.height = `${Math.min(text.scrollHeight, 140)}px`;
  }

  scrollDown(force = false) {
    const { log } = this.ui;
    const near = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
    if (force || near) requestAnimationFrame(() => (log.scrollTop = log.scrollHeight));
  }
}

export function mount(options) {
  return new ChatWidget(options);
}
