// The demo "product": an AI companion app's backend, played in the browser against the real API.
const config = JSON.parse(document.getElementById("demo-config").textContent);
const API = "/api/v1";
const id = Math.random().toString(36).slice(2, 10);
const user = `demo-user-${id}`;
const conversation = `demo-chat-${id}`;
const POLL_MS = 1500;
let sent = 0;
let cursor = "0";
let mode = "ai";
const shown = new Set();

function say(role, text) {
  const item = document.createElement("li");
  item.className = `from-${role}`;
  item.textContent = text; // whatever anyone typed is text, never markup
  document.getElementById("demo-log").append(item);
}

function setStatus(text) {
  document.getElementById("demo-status").textContent = text;
}

async function api(method, path, body) {
  const response = await fetch(API + path, {
    method,
    headers: { Authorization: `Bearer ${config.key}`, "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
}

async function post(role, text) {
  const messageId = `m-${id}-${++sent}`;
  shown.add(messageId);
  return api("POST", `/conversations/${conversation}/messages`, {
    id: messageId, user, role, text, sent_at: new Date().toISOString(),
  });
}

function follow(directives) {
  let answered = false;
  for (const directive of directives) {
    if (directive.type === "reply_with_template") {
      const lines = (directive.resources || []).map((r) => `${r.name}: ${r.phone} (${r.hours})`);
      say("assistant", [directive.text, ...lines].join("\n"));
      answered = true;
    } else if (directive.type === "hold_for_operator") {
      say("system", directive.text);
      setStatus("⏸ waiting for a person");
      answered = true;
    } else {
      say("system", directive.text); // suggest_break and the other reminders
    }
  }
  return answered;
}

async function send(text) {
  say("user", text);
  const result = await post("user", text);
  if (result.status !== 201 && result.status !== 200) {
    say("system", `${result.status}: ${result.body?.error?.message || "error"}`);
    return;
  }
  mode = result.body.conversation.mode;
  if (!follow(result.body.directives) && mode === "ai") {
    const reply = "I hear you. Tell me more about that.";
    const answer = await post("assistant", reply); // refused (409) once a person has taken over
    if (answer.status === 201) say("assistant", reply);
  }
}

async function poll() {
  try {
    const page = await api("GET", `/conversations/${conversation}/messages?after=${cursor}`);
    if (page.status === 200) {
      for (const message of page.body.messages) {
        if (!shown.has(message.id)) {
          shown.add(message.id);
          say(message.role, message.text);
        }
        cursor = message.cursor;
      }
      const state = await api("GET", `/conversations/${conversation}`);
      if (state.status === 200) {
        mode = state.body.mode;
        setStatus(mode === "human" ? "👤 a person from the safety team is here" : "");
      }
    }
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

document.getElementById("demo-locale").addEventListener("change", (event) => {
  api("PUT", `/users/${user}`, { locale: event.target.value, region: event.target.value === "zh-CN" ? "CN" : "US" });
});
document.getElementById("demo-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const box = document.getElementById("demo-text");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  send(text);
});
api("PUT", `/users/${user}`, { locale: "en", region: "US" }).then(poll);
