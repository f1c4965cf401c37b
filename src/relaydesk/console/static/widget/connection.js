// Relaydesk web chat: the websocket, the visitor token, and the outbox of unsent messages.
//
// Every message gets a client_msg_id and waits in the outbox (kept in localStorage) until
// the hub acknowledges it. After a reconnect or a reload the outbox is sent again once;
// the hub stores a client_msg_id only once, and the history it sends tells which ones it
// already has. Events: status, welcome, history, message, ack, failed, email_status,
// typing, error.

const PING_EVERY_MS = 25000;
const PONG_WITHIN_MS = 10000;
const MAX_RETRY_MS = 30000;
const RETRYABLE = new Set(["rate_limited", "slow_down", "server_error"]);

export function newId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID().replaceAll("-", "");
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** localStorage under one prefix; falls back to memory where storage is blocked. */
export class Store {
  constructor(prefix) {
    this.prefix = prefix;
    this.memory = new Map();
  }

  get(key, fallback = null) {
    try {
      const raw = window.localStorage.getItem(this.prefix + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return this.memory.has(key) ? this.memory.get(key) : fallback;
    }
  }

  set(key, value) {
    this.memory.set(key, value);
    try {
      window.localStorage.setItem(this.prefix + key, JSON.stringify(value));
    } catch {
      // private mode or quota: the memory copy lasts until the page closes
    }
  }
}

export function socketUrl(base, channel) {
  const url = new URL(`widget/ws/${encodeURIComponent(channel)}`, base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

export class ChatConnection extends EventTarget {
  constructor({ base, channel }) {
    super();
    this.url = socketUrl(base, channel);
    this.store = new Store(`relaydesk:${channel}:`);
    this.outbox = this.store.get("outbox", []);
    this.ws = null;
    this.ready = false;
    this.status = "connecting";
    this.attempt = 0;
    this.inflight = new Set();
    this.timers = {};
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.drop());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setStatus(status) {
    if (status !== this.status) {
      this.status = status;
      this.emit("status", status);
    }
  }

  start() {
    this.connect();
  }

  connect() {
    clearTimeout(this.timers.retry);
    if (this.ws) return;
    if (navigator.onLine === false) {
      this.setStatus("offline");
      return;
    }
    this.setStatus(this.attempt ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.retryLater();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      const token = this.store.get("token");
      this.sendFrame(token ? { type: "resume", token } : { type: "hello" });
      this.heartbeat();
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      this.inflight.clear();
      clearInterval(this.timers.ping);
      clearTimeout(this.timers.pong);
      this.setStatus(navigator.onLine === false ? "offline" : "reconnecting");
      this.retryLater();
    });
  }

  retryLater() {
    clearTimeout(this.timers.retry);
    if (navigator.onLine === false) return; // the "online" event reconnects
    const ceiling = Math.min(MAX_RETRY_MS, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.timers.retry = setTimeout(() => this.connect(), ceiling * (0.5 + Math.random() / 2));
  }

  reconnectNow() {
    if (!this.ws) {
      this.attempt = 0;
      this.connect();
    }
  }

  /** Close the socket (e.g. the browser went offline); it reconnects when possible. */
  drop() {
    if (this.ws) this.ws.close();
    else this.setStatus(navigator.onLine === false ? "offline" : this.status);
  }

  heartbeat() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      if (!this.sendFrame({ type: "ping" })) return;
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => this.ws && this.ws.close(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  onFrame(frame) {
    switch (frame.type) {
      case "welcome":
        this.store.set("token", frame.token);
        this.ready = true;
        this.attempt = 0;
        this.setStatus("online");
        this.emit("welcome", frame);
        break;
      case "history": {
        const stored = new Set(frame.messages.map((m) => m.client_msg_id).filter(Boolean));
        this.outbox = this.outbox.filter((item) => !stored.has(item.client_msg_id));
        this.saveOutbox();
        this.emit("history", frame);
        this.flush();
        break;
      }
      case "ack":
        this.forget(frame.client_msg_id);
        this.emit("ack", frame);
        this.flush();
        break;
      case "pong":
        clearTimeout(this.timers.pong);
        break;
      case "error":
        this.onError(frame);
        break;
      default:
        this.emit(frame.type, frame);
    }
  }

  onError(frame) {
    const id = frame.client_msg_id;
    if (id && this.outbox.some((item) => item.client_msg_id === id)) {
      this.inflight.delete(id);
      if (RETRYABLE.has(frame.code)) {
        clearTimeout(this.timers.flush);
        const wait = Math.max(1, frame.retry_after || 2) * 1000;
        this.timers.flush = setTimeout(() => this.flush(), wait);
      } else {
        this.forget(id);
        this.emit("failed", frame);
        this.flush();
        return;
      }
    }
    this.emit("error", frame);
  }

  forget(id) {
    this.inflight.delete(id);
    this.outbox = this.outbox.filter((item) => item.client_msg_id !== id);
    this.saveOutbox();
  }

  saveOutbox() {
    this.store.set("outbox", this.outbox);
  }

  /** Queue a message; it is sent now if connected, else after the next hello. */
  sendMessage(text, meta) {
    const item = { client_msg_id: newId(), text, at: new Date().toISOString() };
    if (meta) item.meta = meta;
    this.outbox.push(item);
    this.saveOutbox();
    this.flush();
    return item;
  }

  /** Send the oldest unsent message; the next one goes when it is acknowledged, so the
   * hub stores them in the order they were written. */
  flush() {
    if (!this.ready || this.inflight.size > 0 || this.outbox.length === 0) return;
    const item = this.outbox[0];
    const frame = { type: "message", client_msg_id: item.client_msg_id, text: item.text };
    if (item.meta) frame.meta = item.meta;
    if (this.sendFrame(frame)) this.inflight.add(item.client_msg_id);
  }

  /** Send a control frame (email, verify, receipt, typing) if connected. */
  request(frame) {
    return this.ready && this.sendFrame(frame);
  }

  sendFrame(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}
