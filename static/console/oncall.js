// The roster beside the queue: who is on call now, who is online, and the staffing warning.
// Data comes with every queue.snapshot and, since roster changes have no frame of their own,
// from /console/oncall.json every REFRESH_MS. The console also pings its presence.
import { el, fill, t } from "./util.js";

const REFRESH_MS = 45000;
export const PRESENCE_PING_MS = 60000;

export function renderRoster(data) {
  if (!data || !Array.isArray(data.on_call)) return;
  const online = new Set((data.online || []).map((person) => person.user));
  const items = data.on_call.map((shift) =>
    el("li", { className: online.has(shift.user) ? "online" : "offline" },
      el("span", { className: "dot", title: online.has(shift.user) ? t("online") : t("offline") }),
      `${shift.name || shift.user} · ${t("role_" + shift.role)}`));
  fill(document.getElementById("oncall-list"), ...(items.length ? items : [el("li", {}, t("nobody_on_call"))]));
  const warning = document.getElementById("understaffed");
  warning.hidden = !data.understaffed;
  warning.textContent = t("understaffed", { explicit: data.open_explicit, operators: data.operators_on_call });
}

export function startRosterRefresh() {
  setInterval(async () => {
    try {
      const response = await fetch("/console/oncall.json", { credentials: "same-origin" });
      if (response.ok) renderRoster(await response.json());
    } catch {
      // offline: the next snapshot brings the roster anyway
    }
  }, REFRESH_MS);
}
