// Journey view niceties: Ctrl+Enter (or Cmd+Enter) sends the reply; the page scrolls to
// the newest message; a canned reply or a suggested article goes into the reply box in
// place; the template picker shows only the chosen channel's templates. Everything works
// without it (the canned "Use" button and the "Insert answer" links reload the page).

const text = document.getElementById("reply-text");
if (text) {
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      text.form?.requestSubmit();
    }
  });
}

const notice = document.getElementById("canned-notice");

function say(message) {
  if (!notice) return;
  notice.textContent = message;
  notice.hidden = !message;
}

function insertAtCursor(box, addition) {
  const start = box.selectionStart ?? box.value.length;
  const end = box.selectionEnd ?? box.value.length;
  const before = box.value.slice(0, start);
  const glue = before && !before.endsWith("\n") ? "\n\n" : "";
  box.value = before + glue + addition + box.value.slice(end);
  const caret = (before + glue + addition).length;
  box.setSelectionRange(caret, caret);
  box.focus();
}

const canned = document.getElementById("canned-pick");
const use = document.getElementById("canned-use");
function applyCanned(event) {
  const option = canned?.selectedOptions[0];
  if (!text || !option || !option.value) return;
  event?.preventDefault();
  text.value = option.dataset.text || "";
  const missing = option.dataset.missing;
  say(missing ? `Fill in before sending: ${missing.split(", ").map((m) => `{${m}}`).join(", ")}` : "");
  text.focus();
}
canned?.addEventListener("change", () => applyCanned());
use?.addEventListener("click", applyCanned);

document.querySelectorAll("a.insert[data-insert]").forEach((link) => {
  link.addEventListener("click", (event) => {
    if (!text) return;
    event.preventDefault();
    insertAtCursor(text, link.dataset.insert || "");
  });
});

const channel = document.getElementById("reply-channel");
const template = document.getElementById("reply-template");
function showTemplates() {
  if (!channel || !template) return;
  const chosen = channel.value;
  let any = false;
  for (const option of template.options) {
    if (!option.value) continue;
    const here = option.dataset.channel === chosen;
    option.hidden = !here;
    option.disabled = !here;
    any ||= here;
    if (!here && option.selected) template.value = "";
  }
  document.getElementById("template-fields")?.toggleAttribute("hidden", !any);
  const only = channel.selectedOptions[0]?.dataset.templateOnly === "yes";
  if (text) text.required = !only;
}
channel?.addEventListener("change", showTemplates);
showTemplates();

const timeline = document.getElementById("timeline");
if (timeline && !location.hash) {
  timeline.lastElementChild?.scrollIntoView({ block: "nearest" });
}

// Another form on the page (a note, a transfer, resolve) reloads it: an unsent reply draft
// is kept for this journey in the tab's sessionStorage and put back, until it is sent.
const draftKey = text ? `relaydesk:draft:${location.pathname}` : null;
if (text && draftKey) {
  const kept = sessionStorage.getItem(draftKey);
  if (kept && !text.value) text.value = kept;
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", () => {
      if (form === text.form) sessionStorage.removeItem(draftKey);
      else if (text.value.trim()) sessionStorage.setItem(draftKey, text.value);
    });
  });
}
