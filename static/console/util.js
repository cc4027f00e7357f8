// Small helpers shared by the console's modules: page data, translated strings, DOM, time, sound.

/** JSON the template rendered into the page (json_script / the string catalogue). */
export function pageData(id, fallback = null) {
  const node = document.getElementById(id);
  if (!node) return fallback;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return fallback;
  }
}

export const STRINGS = pageData("console-strings", {});

/** A translated string; `vars` fills `{name}` placeholders. Falls back to the key itself. */
export function t(key, vars = {}) {
  const text = typeof STRINGS[key] === "string" ? STRINGS[key] : key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** The translated label of a code in one of the catalogue's groups (levels, statuses, ...). */
export function label(group, code) {
  if (code === null || code === undefined || code === "") return "—";
  const labels = STRINGS[group] || {};
  return labels[code] || String(code);
}

/**
 * Create an element. Text is always set with textContent, never parsed as HTML:
 * el("td", {className: "x", dataset: {id: "1"}}, "text", otherNode)
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace all children of `node` (strings become text nodes). */
export function fill(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
}

/** "0:42", "12:05", "1:02:09": time waited since an ISO timestamp. */
export function waited(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

const LANG = document.documentElement.lang || undefined;

/** A timestamp in the page's language, e.g. "14:03:12" today or "3 May, 14:03" before. */
export function clock(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = new Date().toDateString() === date.toDateString();
  const options = today ? { timeStyle: "medium" } : { dateStyle: "medium", timeStyle: "short" };
  return date.toLocaleString(LANG, options);
}

// --- sound: a WebAudio beep, no audio file. Browsers only allow sound after a user gesture, so
// the context is created (or resumed) on the first click or key press on the page.
let audio = null;

function unlockAudio() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  if (!audio) audio = new Context();
  if (audio.state === "suspended") audio.resume().catch(() => {});
}
document.addEventListener("click", unlockAudio);
document.addEventListener("keydown", unlockAudio);

/** Three short beeps; silent (never throws) when the browser does not allow sound yet. */
export function beep() {
  try {
    unlockAudio();
    if (!audio || audio.state !== "running") return false;
    const start = audio.currentTime;
    for (let i = 0; i < 3; i += 1) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(audio.destination);
      osc.start(start + i * 0.25);
      osc.stop(start + i * 0.25 + 0.15);
    }
    return true;
  } catch {
    return false;
  }
}
