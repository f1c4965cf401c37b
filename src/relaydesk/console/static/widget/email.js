// Relaydesk web chat: "leave your email", then a one-time code to prove it is yours.

import { el } from "./view.js?v=__VERSION__";

const TEXT = {
  offer: "Leave your email so we can follow up",
  label: "Your email address",
  save: "Save",
  sendCode: "Email me a code",
  codeLabel: (address) => `Code we emailed to ${address}`,
  verify: "Verify",
  newCode: "Send a new code",
  change: "Use another address",
  cancel: "Not now",
  claimed: (address) => `We will reply to ${address} (not verified).`,
  pending: (address) => `Sending a code to ${address}…`,
  verified: (address) => `✓ ${address} is verified.`,
  failed: (address) => `We could not send a code to ${address}.`,
  locked: "Too many wrong codes. Ask for a new one.",
};

const ERRORS = new Set([
  "bad_email",
  "email_disabled",
  "too_many_codes",
  "bad_code",
  "code_locked",
  "code_expired",
  "no_code",
  "code_pending",
]);

export class EmailArea {
  constructor(root, connection) {
    this.root = root;
    this.connection = connection;
    this.state = null; // {address, status}
    this.expanded = false;
    this.verification = false;
    this.enabled = false;
  }

  configure({ ask_email: askEmail, verification }, state) {
    this.enabled = askEmail;
    this.verification = verification;
    this.state = state;
    this.render();
  }

  handles(error) {
    return ERRORS.has(error.code);
  }

  update(frame) {
    this.state = { address: frame.address || (this.state && this.state.address), status: frame.status };
    this.expanded = false;
    this.render();
  }

  showError(frame) {
    const alert = this.root.querySelector(".email-error");
    const left = frame.attempts_left ? ` (${frame.attempts_left} tries left)` : "";
    if (alert) alert.textContent = `${frame.detail}${left}`;
    if (frame.code === "code_locked" || frame.code === "code_expired") {
      this.state = { ...(this.state || {}), status: "locked" };
      this.render(`${frame.detail}`);
    }
  }

  render(message = "") {
    this.root.replaceChildren();
    this.root.hidden = !this.enabled;
    if (!this.enabled) return;
    const { address, status } = this.state || {};
    const note = (text) => el("p", { class: "email-note", text });
    const error = el("p", { class: "email-error", role: "alert", text: message });
    if (status === "verified") {
      this.root.append(note(TEXT.verified(address)));
      return;
    }
    if (this.expanded) {
      this.root.append(this.addressForm(address), error);
      return;
    }
    if (status === "sent") {
      this.root.append(this.codeForm(address), error);
      return;
    }
    if (status === "pending") {
      this.root.append(note(TEXT.pending(address)));
      return;
    }
    if (status) {
      const line = status === "claimed" ? TEXT.claimed(address) : status === "failed" ? TEXT.failed(address) : TEXT.locked;
      const again = status === "claimed" ? TEXT.change : TEXT.newCode;
      this.root.append(
        el("div", { class: "email-row" }, note(line), this.linkButton(again, () => this.resend(status))),
        error,
      );
      return;
    }
    this.root.append(this.linkButton(TEXT.offer, () => this.expand(), "email-offer"));
  }

  linkButton(text, onClick, extra = "") {
    const button = el("button", { type: "button", class: `link ${extra}`.trim(), text });
    button.addEventListener("click", onClick);
    return button;
  }

  expand() {
    this.expanded = true;
    this.render();
    const input = this.root.querySelector("input");
    if (input) input.focus();
  }

  resend(status) {
    if (status !== "claimed" && this.state && this.state.address && this.verification) {
      this.connection.request({ type: "email", address: this.state.address });
    } else {
      this.expand();
    }
  }

  addressForm(address) {
    const input = el("input", {
      id: "rd-email",
      type: "email",
      autocomplete: "email",
      required: true,
      maxlength: "320",
      value: address || "",
    });
    const form = el(
      "form",
      { class: "email-form" },
      el("label", { for: "rd-email", text: TEXT.label }),
      el(
        "div",
        { class: "email-fields" },
        input,
        el("button", { type: "submit", class: "secondary", text: this.verification ? TEXT.sendCode : TEXT.save }),
      ),
      this.linkButton(TEXT.cancel, () => {
        this.expanded = false;
        this.render();
      }),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.value.trim()) this.connection.request({ type: "email", address: input.value.trim() });
    });
    return form;
  }

  codeForm(address) {
    const input = el("input", {
      id: "rd-code",
      type: "text",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      pattern: "[0-9 ]*",
      maxlength: "8",
      required: true,
    });
    const form = el(
      "form",
      { class: "email-form" },
      el("label", { for: "rd-code", text: TEXT.codeLabel(address) }),
      el("div", { class: "email-fields" }, input, el("button", { type: "submit", class: "secondary", text: TEXT.verify })),
      el(
        "div",
        { class: "email-links" },
        this.linkButton(TEXT.newCode, () => this.connection.request({ type: "email", address })),
        this.linkButton(TEXT.change, () => this.expand()),
      ),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.value.trim()) this.connection.request({ type: "verify", code: input.value.trim() });
    });
    return form;
  }
}
