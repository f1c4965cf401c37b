// Offer countdowns: each <time data-expires-in="N"> (seconds left when the server rendered
// the page) counts down once a second. Without JavaScript it keeps the expiry time.
// Elements swapped in by live.js are counted at once (it says "console:swapped"), so a
// refreshed offer never shows the static "Expires at" text.

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll("time[data-expires-in]")) {
    if (!el.dataset.deadline) {
      const seconds = Number.parseInt(el.dataset.expiresIn, 10);
      if (Number.isNaN(seconds)) continue;
      el.dataset.deadline = String(now + seconds * 1000);
    }
    const left = Math.max(0, Math.round((Number(el.dataset.deadline) - now) / 1000));
    el.textContent = left > 0 ? `in ${left} s` : "now (expired)";
    el.closest(".offer")?.classList.toggle("expired", left === 0);
  }
}

tick();
setInterval(tick, 1000);
document.addEventListener("console:swapped", tick);
window.addEventListener("pageshow", tick);
