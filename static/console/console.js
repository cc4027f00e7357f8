// The operator console: the live queue over /ws/console/, alerts, and reconnecting with backoff.
// Frames are described in docs/api-v1.md ("Operator console websocket"); docs/console.md explains
// this module's structure. No build step: plain ES modules served as static files.
import { IncidentPane } from "./incident.js";
import { PRESENCE_PING_MS, renderRoster, startRosterRefresh } from "./oncall.js";
import { beep, el, fill, label, pageData, t, waited } from "./util.js";

const $ = (id) => document.getElementById(id);
const RANK = { explicit: 3, high_risk: 2, distress: 1, none: 0 };
const RETRY_FIRST_MS = 500;
const SIGNED_OUT = 4403; // the server closes a socket it will not serve with this code
const RETRY_MAX_MS = 10000;

const me = pageData("console-username", "");
const queue = new Map(); // incident id -> queue item (as the server sends it)
const flagged = new Set(); // ids highlighted by an alert until opened or dismissed
let snapshots = 0;
let socket = null;
let retryMs = RETRY_FIRST_MS;
const baseTitle = document.title;

// --- the socket ----------------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/console/`);
  socket = ws;
  ws.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame && typeof frame.type === "string") handle(frame);
  });
  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    socket = null;
    if (event.code === SIGNED_OUT) {
      // Session expired or a second factor is due: the login pages take it from here.
      window.location.assign("/accounts/login/?next=/console/");
      return;
    }
    setConnection("reconnecting");
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  });
}

/** Send a frame; false (and a visible error) when the socket is not open. */
function send(frame) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showGlobalError(t("not_connected"));
    return false;
  }
  socket.send(JSON.stringify(frame));
  return true;
}

function setConnection(state) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = t(state);
  document.body.classList.toggle("offline", state !== "live");
}

// --- frames --------------------------------------------------------------------------------------

function handle(frame) {
  switch (frame.type) {
    case "queue.snapshot": {
      // Replaces the queue: whatever happened while disconnected is in it.
      const before = new Set(queue.keys());
      queue.clear();
      for (const item of frame.incidents) queue.set(item.id, item);
      if (snapshots > 0) {
        const missed = frame.incidents.filter((i) => !before.has(i.id) && i.level === "explicit");
        if (missed.length) raiseAlert(missed[0], t("new_explicit"));
      }
      snapshots += 1;
      retryMs = RETRY_FIRST_MS;
      setConnection("live");
      $("queue-count").dataset.total = frame.total;
      renderQueue();
      renderRoster(frame);
      if (pane.id) pane.load(); // catch up the open transcript too
      break;
    }
    case "incident.opened":
    case "incident.updated": {
      const item = frame.incident;
      const previous = queue.get(item.id);
      if (item.status === "resolved") queue.delete(item.id);
      else queue.set(item.id, item);
      // Alert for an explicit incident that is newly waiting: opened, raised to explicit, or reopened.
      const newlyExplicit = item.level === "explicit" && item.status === "open"
        && (!previous || previous.level !== "explicit" || previous.status !== "open");
      if (frame.alert === "escalated") raiseAlert(item, t("escalated"));
      else if (newlyExplicit) raiseAlert(item, t("new_explicit"));
      if (item.status === "claimed" || item.status === "resolved") flagged.delete(item.id);
      renderQueue();
      pane.onIncident(item);
      break;
    }
    case "message.created":
      pane.onMessage(frame.incident, frame.message);
      break;
    case "message.updated": // the second stage raised a message's level
      pane.onMessageUpdated(frame.incident, frame.message);
      break;
    case "notification.updated":
      pane.onNotification(frame);
      break;
    case "feedback.updated":
      pane.onFeedback(frame);
      break;
    case "error":
      if (pane.id && (frame.incident === pane.id || !frame.incident)) pane.onError(frame);
      else showGlobalError(label("errors", frame.code) !== frame.code ? label("errors", frame.code) : frame.message);
      break;
    default:
      break; // frames this console does not know yet are ignored
  }
}

// --- the queue -----------------------------------------------------------------------------------

function sortedQueue() {
  return [...queue.values()].sort((a, b) =>
    (RANK[b.level] ?? 0) - (RANK[a.level] ?? 0) || Date.parse(a.opened_at) - Date.parse(b.opened_at));
}

function queueRow(item) {
  const user = item.user || {};
  const holder = item.claimed_by ? (item.claimed_by === me ? t("you") : item.claimed_by) : "—";
  const open = el("button", { type: "button", className: "link open", text: item.conversation, title: t("open") });
  open.addEventListener("click", () => pane.open(item.id));
  const row = el("tr", { className: `level-${item.level} status-${item.status}`, dataset: { id: item.id, level: item.level } },
    el("td", { className: "level", text: label("levels", item.level) }),
    el("td", { text: label("categories", item.category) }),
    el("td", { className: "status", text: label("statuses", item.status) }),
    el("td", { className: "holder", text: holder }),
    el("td", { text: item.product }),
    el("td", {}, open),
    el("td", { text: label("age_groups", user.age_group) }),
    el("td", { text: user.region || "—" }),
    el("td", { text: label("dependence", user.dependence_level) }),
    el("td", {}, el("time", { className: "waiting", dateTime: item.opened_at, text: waited(item.opened_at) })));
  row.classList.toggle("flash", flagged.has(item.id));
  row.classList.toggle("selected", item.id === pane.id);
  return row;
}

function renderQueue() {
  const items = sortedQueue();
  fill($("queue-body"), ...items.map(queueRow));
  $("queue-empty").hidden = items.length > 0;
  $("queue-count").textContent = `(${items.length})`;
}

function tick() {
  const now = Date.now();
  for (const node of document.querySelectorAll("#queue-body time.waiting")) {
    node.textContent = waited(node.dateTime, now);
  }
}

// --- alerts --------------------------------------------------------------------------------------

function raiseAlert(item, text) {
  flagged.add(item.id);
  const box = $("alert");
  box.dataset.incident = item.id;
  box.dataset.level = item.level;
  $("alert-text").textContent = `${text}: ${label("levels", item.level)} · ${item.product} · ${item.conversation}`;
  box.hidden = false;
  document.title = `(!) ${baseTitle}`;
  box.dataset.sound = beep() ? "played" : "blocked"; // blocked: no click or key press on the page yet
}

function dismissAlert() {
  $("alert").hidden = true;
  flagged.clear();
  document.title = baseTitle;
  renderQueue();
}

function showGlobalError(text) {
  const box = $("global-error");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(showGlobalError.timer);
  showGlobalError.timer = setTimeout(() => { box.hidden = true; }, 8000);
}

// --- start ---------------------------------------------------------------------------------------

const pane = new IncidentPane({
  send,
  me,
  supervisor: pageData("console-supervisor", false),
  outcomes: pageData("console-outcomes", []),
  feedbackLevels: pageData("console-feedback-levels", []),
  feedbackCategories: pageData("console-feedback-categories", []),
  onChange: () => {
    if (pane.id) flagged.delete(pane.id);
    renderQueue();
  },
});

$("alert-dismiss").addEventListener("click", dismissAlert);
$("alert-open").addEventListener("click", () => {
  const id = $("alert").dataset.incident;
  dismissAlert();
  if (id) pane.open(id);
});

setConnection("connecting");
renderQueue();
setInterval(tick, 1000);
connect();
startRosterRefresh();
setInterval(() => {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "presence.ping" }));
}, PRESENCE_PING_MS);
const opened = /^#incident=([0-9a-f-]{36})$/.exec(location.hash);
if (opened) pane.open(opened[1]);
