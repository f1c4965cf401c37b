// Journey view niceties: Ctrl+Enter (or Cmd+Enter) sends the reply; the page scrolls to
// the newest message. Everything works without it.

const text = document.getElementById("reply-text");
if (text) {
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      text.form?.requestSubmit();
    }
  });
}

const timeline = document.getElementById("timeline");
if (timeline && !location.hash) {
  timeline.lastElementChild?.scrollIntoView({ block: "nearest" });
}
