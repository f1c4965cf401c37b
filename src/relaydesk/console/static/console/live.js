// Live updates for console pages: one websocket to /console/ws (authenticated by the
// session cookie). When a journey changes, the parts of the page marked data-live are
// re-read from the server (same URL, same HTML) and swapped in place. Without JavaScript
// the pages work as they are; with it they stay current.

const status = document.getElementById("live-status");
const region = document.querySelector("[data-live]");
const kind = region ? region.dataset.live : null;
const journeyId = region ? region.dataset.journeyId : null;

function say(text) {
  if (status) status.textContent = text;
}

let timer = null;
function scheduleRefresh() {
  if (timer !== null) return;
  timer = setTimeout(() => {
    timer = null;
    refresh().catch(() => say("Live updates paused"));
  }, 250);
}

// Swap the inner HTML of #id with the freshly rendered one, keeping focus where it was.
function swap(fresh, id) {
  const current = document.getElementById(id);
  const next = fresh.getElementById(id);
  if (!current || !next) return;
  const focused = document.activeElement;
  const focusId = focused && current.contains(focused) ? focused.id : null;
  current.innerHTML = next.innerHTML;
  if (focusId) document.getElementById(focusId)?.focus();
}

async function refresh() {
  const response = await fetch(location.href, {
    credentials: "same-origin",
    headers: { Accept: "text/html" },
  });
  if (response.redirected || !response.ok) {
    say("Signed out: reload the page");
    return;
  }
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  if (kind === "inbox") {
    swap(fresh, "notices-region");
    swap(fresh, "offers-region");
    swap(fresh, "inbox-rows");
  }
  swap(fresh, "desk-load");
  if (kind === "journey") swap(fresh, "timeline-region");
  if (kind === "supervisor") swap(fresh, "floor-region");
  // Let other modules (countdown.js) update what was just swapped in, without a blank tick.
  document.dispatchEvent(new CustomEvent("console:swapped"));
}

// The customer is typing (web chat): a line under the timeline, cleared when they stop,
// send, or after a few quiet seconds. No refresh: nothing changed on the server.
const typing = document.getElementById("typing-status");
let typingTimer = null;
function showTyping(on) {
  if (!typing) return;
  clearTimeout(typingTimer);
  typing.textContent = on ? "The customer is typing…" : "";
  if (on) typingTimer = setTimeout(() => showTyping(false), 6000);
}

function relevant(event) {
  if (event.type === "resync") return true;
  if (!event.type || event.type === "hello") return false;
  return kind === "inbox" || kind === "supervisor" || event.journey_id === journeyId;
}

// The agent typing a reply: "Support is typing…" in the customer's web chat (never the text),
// at most every 2 s while typing, off when the box is left or the reply sent.
let liveSocket = null;
let typingSentAt = 0;
function sendTyping(on) {
  if (!liveSocket || liveSocket.readyState !== WebSocket.OPEN || !journeyId) return;
  const now = Date.now();
  if (on && now - typingSentAt < 2000) return;
  typingSentAt = on ? now : 0;
  liveSocket.send(JSON.stringify({ type: "typing", journey_id: journeyId, on }));
}
const replyBox = document.getElementById("reply-text");
if (replyBox && kind === "journey") {
  replyBox.addEventListener("input", () => sendTyping(replyBox.value.trim() !== ""));
  replyBox.addEventListener("blur", () => sendTyping(false));
  replyBox.form?.addEventListener("submit", () => sendTyping(false));
}

let delay = 500;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/console/ws`);
  liveSocket = socket;
  socket.addEventListener("open", () => {
    delay = 500;
    say("Live");
  });
  socket.addEventListener("message", (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event.type === "typing") {
      if (kind === "journey" && event.journey_id === journeyId) showTyping(Boolean(event.on));
      return;
    }
    if (!relevant(event)) return;
    if (event.type === "message.received" && event.journey_id === journeyId) showTyping(false);
    if (event.type === "sla.warning" || event.type === "sla.breach") {
      say(event.type === "sla.breach" ? "SLA breached on a journey" : "SLA warning on a journey");
    }
    scheduleRefresh();
  });
  socket.addEventListener("close", (closed) => {
    if (closed.code === 4401) {
      say("Signed out: reload the page");
      return;
    }
    say("Reconnecting…");
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 15000);
  });
}

if (kind) connect();
