// The incident pane: transcript (live, with "load earlier"), contacts, timeline, presets,
// hotlines, and the operator's actions (take over, reply, hand back, resolve, and labels on user
// messages for the risk engine's feedback loop: "Not a risk", "Missed risk").
// Everything from the server is put in the page as text (textContent), never as HTML.
import { clock, el, fill, label, t } from "./util.js";

const $ = (id) => document.getElementById(id);
const REFRESH_DELAY_MS = 300;

export class IncidentPane {
  /**
   * @param {object} options
   * @param {(frame: object) => boolean} options.send  sends a frame; false when not connected
   * @param {string} options.me            the signed-in username
   * @param {boolean} options.supervisor   supervisors may resolve what others hold
   * @param {string[]} options.outcomes    resolve outcomes, as the server accepts them
   * @param {string[]} options.feedbackLevels      levels a "Missed risk" label may have
   * @param {string[]} options.feedbackCategories  categories a "Missed risk" label may have
   * @param {() => void} options.onChange  called when the open incident changes (queue highlight)
   */
  constructor({ send, me, supervisor, outcomes, feedbackLevels = [], feedbackCategories = [], onChange }) {
    Object.assign(this, { send, me, supervisor, onChange, feedbackLevels, feedbackCategories });
    this.id = null;
    this.item = null; // the incident as a queue item
    this.user = null; // the end user, from the detail
    this.messages = []; // transcript, oldest first
    this.before = null; // cursor for "load earlier"
    this.refreshTimer = null;
    this.lastReply = "";
    this.contacts = []; // as the detail lists them
    this.notifications = new Map(); // contact name -> latest notification (notification.updated)

    fill($("outcome"), ...outcomes.map((code) => el("option", { value: code, text: label("outcomes", code) })));
    $("inc-close").addEventListener("click", () => this.close());
    $("claim").addEventListener("click", () => this.act({ type: "incident.claim" }));
    $("notify").addEventListener("click", () => this.act({ type: "contacts.notify" }));
    $("load-earlier").addEventListener("click", () => this.loadEarlier());
    $("reply-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("reply-text").value.trim();
      if (!text) return;
      if (this.act({ type: "message.send", text })) {
        this.lastReply = text;
        $("reply-text").value = "";
      }
    });
    $("return-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      if (this.act({ type: "incident.return_to_ai", note: form.elements.note.value })) form.reset();
    });
    $("resolve-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const frame = { type: "incident.resolve", outcome: form.elements.outcome.value, note: form.elements.note.value };
      if (this.act(frame)) form.elements.note.value = "";
    });
  }

  /** Send an action about the open incident; errors come back as `error` frames. */
  act(frame) {
    if (!this.id) return false;
    this.clearError();
    this.lastAction = frame.type;
    return this.send({ ...frame, incident: this.id });
  }

  async open(id) {
    if (this.id !== id) {
      this.id = id;
      this.item = null;
      this.messages = [];
      this.before = null;
      this.contacts = [];
      this.notifications = new Map();
      this.clearError();
      $("reply-text").value = "";
      fill($("transcript"));
      fill($("inc-title"), "…");
    }
    $("incident").hidden = false;
    history.replaceState(null, "", `#incident=${id}`);
    this.onChange();
    await this.load();
  }

  close() {
    this.id = null;
    $("incident").hidden = true;
    history.replaceState(null, "", location.pathname + location.search);
    this.onChange();
  }

  /** (Re)load the detail; the transcript is merged, so live messages and earlier pages stay. */
  async load() {
    const id = this.id;
    let data;
    try {
      const response = await fetch(`/console/incidents/${id}/`, { headers: { Accept: "application/json" } });
      if (response.status === 404) throw new Error("not_found");
      if (!response.ok) throw new Error("load_failed");
      data = await response.json();
    } catch (error) {
      if (id === this.id) this.showError(error.message === "not_found" ? "not_found" : "load_failed");
      return;
    }
    if (id !== this.id) return; // another incident was opened meanwhile
    this.item = data.incident;
    this.user = data.user;
    this.mergeTranscript(data.transcript);
    this.renderHeader();
    for (const notification of data.notifications || []) this.noteNotification(notification);
    this.renderContacts(data.contacts);
    this.renderTimeline(data.timeline);
    this.renderPresets(data.templates);
    this.renderHotlines(data.hotlines);
  }

  /** Re-read the detail soon (timeline, contacts), at most once per burst of frames. */
  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.id && this.load(), REFRESH_DELAY_MS);
  }

  async loadEarlier() {
    const id = this.id;
    if (!id || !this.before) return;
    const response = await fetch(`/console/incidents/${id}/?before=${encodeURIComponent(this.before)}`);
    if (!response.ok || id !== this.id) return;
    const { transcript } = await response.json();
    const known = new Set(this.messages.map((m) => m.id));
    const older = transcript.messages.filter((m) => !known.has(m.id));
    this.messages = [...older, ...this.messages];
    this.before = transcript.before;
    const list = $("transcript");
    const fromBottom = list.scrollHeight - list.scrollTop;
    list.prepend(...older.map((m) => this.messageNode(m)));
    list.scrollTop = list.scrollHeight - fromBottom; // keep what the operator was reading in place
    $("load-earlier").hidden = !this.before;
  }

  // --- frames from the socket ------------------------------------------------------------------

  onIncident(item) {
    if (item.id !== this.id) return;
    this.item = item;
    this.renderHeader();
    this.scheduleRefresh();
  }

  onMessage(incidentId, message) {
    if (incidentId !== this.id) return;
    this.addMessage(message);
    this.scheduleRefresh();
  }

  /** A label was proposed, confirmed or rejected for a message of the open incident. */
  onFeedback(frame) {
    if (frame.incident !== this.id) return;
    const message = this.messages.find((m) => m.id === frame.message);
    if (message) {
      message.feedback = frame.feedback && frame.feedback.state !== "rejected" ? frame.feedback : null;
      const node = [...$("transcript").children].find((li) => li.dataset.id === frame.message);
      if (node) node.replaceWith(this.messageNode(message));
    }
    this.scheduleRefresh();
  }

  /** A message already shown was assessed again (raised by the second stage): redraw it. */
  onMessageUpdated(incidentId, message) {
    if (incidentId !== this.id) return;
    const index = this.messages.findIndex((m) => m.id === message.id);
    if (index < 0) {
      this.addMessage(message);
    } else {
      this.messages[index] = message;
      const node = [...$("transcript").children].find((li) => li.dataset.id === message.id);
      if (node) node.replaceWith(this.messageNode(message));
    }
    this.scheduleRefresh();
  }

  /** The emergency-contact chain moved on: show the step's status on its contact's row. */
  onNotification(frame) {
    if (frame.incident !== this.id || !frame.notification) return;
    this.noteNotification(frame.notification);
    this.renderContacts(this.contacts);
    this.scheduleRefresh();
  }

  /** Keep the latest step of the chain for each person it reached (by name, as the server labels it). */
  noteNotification(notification) {
    const previous = this.notifications.get(notification.to);
    if (!previous || notification.step >= previous.step) this.notifications.set(notification.to, notification);
  }

  /** An `error` frame about the open incident (or about an action it just sent). */
  onError(frame) {
    const code = frame.code === "unknown_frame" ? "unavailable" : frame.code;
    this.showError(code, frame.message);
    if (this.lastAction === "message.send" && !$("reply-text").value) $("reply-text").value = this.lastReply;
  }

  // --- rendering ---------------------------------------------------------------------------------

  showError(code, serverMessage = "") {
    const translated = label("errors", code);
    const box = $("inc-error");
    box.dataset.code = code;
    box.textContent = translated !== code ? translated : serverMessage || t(code);
    box.title = serverMessage; // e.g. who took it over, in the server's words
    box.hidden = false;
  }

  clearError() {
    const box = $("inc-error");
    box.hidden = true;
    box.textContent = "";
    delete box.dataset.code;
  }

  renderHeader() {
    const item = this.item;
    if (!item) return;
    const user = this.user || item.user || {};
    fill($("inc-title"), `${label("levels", item.level)} · ${item.product} · ${item.conversation}`);
    $("incident").dataset.level = item.level;
    $("incident").dataset.status = item.status;
    const facts = [
      ["level", label("levels", item.level) + (item.category ? ` (${label("categories", item.category)})` : "")],
      ["status", label("statuses", item.status)],
      ["mode", label("modes", item.mode)],
      ["user", user.id || "—"],
      ["age_group", label("age_groups", user.age_group)],
      ["region", user.region || "—"],
      ["locale", user.locale || "—"],
      ["dependence_level", label("dependence", user.dependence_level)],
      ["registration", user.registration || "—"],
      ["training_consent", user.training_consent === undefined ? "—" : t(user.training_consent ? "yes" : "no")],
    ];
    fill($("inc-facts"), ...facts.flatMap(([key, value]) => [
      el("dt", { text: label("facts", key) }), el("dd", { text: value, dataset: { fact: key } }),
    ]));

    const mine = item.status === "claimed" && item.claimed_by === this.me;
    let holder = t("ai_in_control");
    if (item.status === "claimed") holder = mine ? t("held_by_you") : t("held_by", { name: item.claimed_by });
    if (item.status === "resolved") holder = t("resolved_as", { outcome: label("outcomes", item.outcome) });
    $("inc-holder").textContent = holder;

    const resolved = item.status === "resolved";
    $("claim").disabled = !["open", "returned"].includes(item.status);
    $("notify").disabled = resolved;
    for (const id of ["reply-text", "send", "return"]) $(id).disabled = !mine;
    for (const button of $("presets").querySelectorAll("button")) button.disabled = !mine;
    $("resolve").disabled = resolved || (item.status === "claimed" && !mine && !this.supervisor);
  }

  mergeTranscript(transcript) {
    const known = new Set(this.messages.map((m) => m.id));
    const overlaps = transcript.messages.some((m) => known.has(m.id));
    if (!this.messages.length || !overlaps) {
      // First load, or more was missed than one page holds: start again from the latest page.
      this.messages = [...transcript.messages];
      this.before = transcript.before;
      const list = $("transcript");
      fill(list, ...this.messages.map((m) => this.messageNode(m)));
      list.scrollTop = list.scrollHeight; // the latest message in view
    } else {
      for (const message of transcript.messages) this.addMessage(message);
    }
    $("load-earlier").hidden = !this.before;
  }

  addMessage(message) {
    if (this.messages.some((m) => m.id === message.id)) return;
    this.messages.push(message);
    const list = $("transcript");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(this.messageNode(message));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  messageNode(message) {
    const who = message.role === "operator" && message.operator
      ? `${label("roles", "operator")} ${message.operator}` : label("roles", message.role);
    const meta = el("div", { className: "meta" },
      el("span", { className: "role", text: who }),
      el("time", { dateTime: message.sent_at, text: clock(message.sent_at) }));
    if (message.level && message.level !== "none") {
      meta.append(el("span", { className: `badge level-${message.level}`, text: label("levels", message.level) }));
    }
    if (message.category) meta.append(el("span", { className: "category", text: label("categories", message.category) }));
    const why = (message.reasons || []).map((r) => this.reasonText(r)).filter(Boolean);
    const signals = why.length
      ? el("p", { className: "signals", title: (message.signals || []).join(", "),
        text: `${t("why")}: ${why.join("; ")}` }) : null;
    return el("li", { className: `message role-${message.role}`, dataset: { id: message.id, role: message.role } },
      meta, el("p", { className: "text", text: message.text }), signals,
      message.role === "user" ? this.feedbackNode(message) : null);
  }

  /**
   * The risk label of a user message and the actions that propose one (escalation.feedback):
   * "Not a risk" on a flagged message, "Missed risk" (a level and a category) on any. A label a
   * supervisor confirmed stands; a proposal may be replaced.
   */
  feedbackNode(message) {
    const box = el("div", { className: "feedback" });
    const given = message.feedback;
    if (given) {
      const what = given.verdict === "not_risk" ? t("not_a_risk")
        : `${t("missed_risk")}: ${label("levels", given.level)} (${label("categories", given.category)})`;
      box.append(el("span", { className: `label state-${given.state}`, dataset: { state: given.state, verdict: given.verdict },
        text: `${what} · ${label("feedback_states", given.state)}${given.by ? ` · ${given.by}` : ""}` }));
      if (given.state === "confirmed") return box;
    }
    if (message.level && message.level !== "none" && !(given && given.verdict === "not_risk")) {
      const button = el("button", { type: "button", className: "mark-not-risk", text: t("not_a_risk") });
      button.addEventListener("click", () => this.act({ type: "message.mark_not_risk", message: message.id }));
      box.append(button);
    }
    const form = el("form", { className: "missed-risk", hidden: true });
    const level = el("select", { name: "level", title: t("level") },
      ...this.feedbackLevels.map((code) => el("option", { value: code, text: label("levels", code) })));
    const category = el("select", { name: "category", title: t("category") },
      ...this.feedbackCategories.map((code) => el("option", { value: code, text: label("categories", code) })));
    form.append(el("label", {}, `${t("level")} `, level), " ", el("label", {}, `${t("category")} `, category), " ",
      el("button", { type: "submit", className: "primary", text: t("propose") }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.act({ type: "message.mark_missed_risk", message: message.id, level: level.value, category: category.value })) {
        form.hidden = true;
      }
    });
    const open = el("button", { type: "button", className: "mark-missed-risk", text: `${t("missed_risk")}…` });
    open.addEventListener("click", () => { form.hidden = !form.hidden; });
    box.append(open, form);
    return box;
  }

  /** One reason (conversations/risk/reasons.py) in the operator's words; the raw signals stay in the title. */
  reasonText(reason) {
    const example = reason.example ? ` (${t("reason_example").replace("{example}", reason.example)})` : "";
    switch (reason.kind) {
      case "decided": return reason.by === "model" ? t("reason_by_model") : t("reason_by_rules");
      case "model": return t("reason_model").replace("{level}", label("levels", reason.level))
        .replace("{percent}", `${Math.round(reason.score * 100)}%`);
      case "rule": return t("reason_rule").replace("{rule}", reason.rule) + example;
      case "context": return t("reason_context").replace("{rule}", reason.rule) + example;
      default: return "";
    }
  }

  notificationText(contact) {
    const n = this.notifications.get(contact.name) || contact.notification;
    if (!n || !n.status) return t("not_notified");
    const channel = n.kind ? ` (${label("channels", n.kind)})` : "";
    return `${label("notification_statuses", n.status)}${channel}`;
  }

  renderContacts(contacts) {
    this.contacts = contacts;
    if (!contacts.length) {
      fill($("contacts"), el("tr", {}, el("td", { colSpan: 6, text: t("no_contacts") })));
      return;
    }
    fill($("contacts"), ...contacts.map((c) => el("tr", {},
      el("td", { text: c.name }), el("td", { text: c.relationship || "—" }), el("td", { text: label("kinds", c.kind) }),
      el("td", { className: "phone", text: c.phone }), el("td", { text: c.verified ? t("yes") : t("no") }),
      // Delivery status of the chain's step for this contact, from notification.updated frames.
      el("td", { className: "notification", text: this.notificationText(c) }))));
  }

  renderTimeline(events) {
    fill($("timeline"), ...events.map((e) => {
      const details = Object.entries(e.data || {})
        .filter(([, value]) => value !== null && value !== "" && typeof value !== "object")
        .map(([key, value]) => `${key}: ${value}`).join(" · ");
      return el("li", { dataset: { kind: e.kind } },
        el("time", { dateTime: e.at, text: clock(e.at) }), " ",
        el("strong", { text: label("events", e.kind) }), e.actor ? ` — ${e.actor}` : "",
        details ? el("span", { className: "details", text: ` (${details})` }) : null);
    }));
  }

  renderPresets(templates) {
    if (!templates.length) {
      fill($("presets"), el("span", { className: "note", text: t("no_presets") }));
      return;
    }
    fill($("presets"), ...templates.map((template) => {
      const button = el("button", { type: "button", className: "preset", text: template.text, title: template.text });
      button.addEventListener("click", () => {
        $("reply-text").value = template.text;
        $("reply-text").focus();
      });
      return button;
    }));
    this.renderHeader(); // enables the presets when the operator holds the conversation
  }

  renderHotlines(hotlines) {
    if (!hotlines.length) {
      fill($("hotlines"), el("li", { className: "note", text: t("no_hotlines") }));
      return;
    }
    fill($("hotlines"), ...hotlines.map((h) => el("li", {},
      el("strong", { text: h.name }), " ", el("span", { className: "phone", text: h.phone }),
      h.hours ? el("span", { className: "note", text: ` (${h.hours})` }) : null)));
  }
}
