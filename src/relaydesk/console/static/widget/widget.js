/* Relaydesk web chat loader. Put this on any page:
 *   <script src="https://HUB/widget.js" data-channel="NAME" async></script>
 * It is a classic script (so the one tag works everywhere) that imports the widget's
 * ES modules from the same hub. */
(() => {
  "use strict";
  const script =
    document.currentScript || document.querySelector('script[src*="widget.js"][data-channel]');
  if (!script || window.__relaydeskWidget) return;
  const channel = script.getAttribute("data-channel");
  if (!channel) {
    console.warn('Relaydesk widget: add data-channel="NAME" to its script tag');
    return;
  }
  window.__relaydeskWidget = true;
  const base = new URL(".", script.src).href;
  const version = "__VERSION__";
  const start = () =>
    import(new URL(`widget/chat.js?v=${version}`, base).href)
      .then((chat) => chat.mount({ base, channel, version }))
      .catch((error) => console.warn("Relaydesk widget could not start:", error));
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start, { once: true });
  } else {
    start();
  }
})();
