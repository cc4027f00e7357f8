/* The reports page: reads /console/reports/data.json for the chosen filters and draws each report
   with Chart.js (vendored in static/vendor/chartjs). Charts are kept in window.reportCharts by name. */
(function () {
  "use strict";
  var root = document.getElementById("reports");
  var form = document.getElementById("report-filter");
  var status = document.getElementById("reports-status");
  var COLORS = {
    explicit: "#c0392b", high_risk: "#e67e22", distress: "#f1c40f", total: "#34495e",
    delivered: "#27ae60", failed: "#c0392b", fell_through: "#95a5a6",
    claimed: "#2980b9", returned: "#8e44ad",
    safe: "#27ae60", contact_notified: "#16a085", emergency_services: "#c0392b", false_alarm: "#bdc3c7", other: "#7f8c8d",
    minor: "#3498db", adult: "#2ecc71", elder: "#9b59b6", unknown: "#bdc3c7",
    suggest_break: "#2980b9", remind_ai_identity: "#16a085", dependence_reminder: "#d35400",
    p50: "#2980b9", p90: "#c0392b", target: "#7f8c8d"
  };
  window.reportCharts = {};

  function query() {
    var params = new URLSearchParams(new FormData(form));
    Array.from(params.keys()).forEach(function (key) { if (!params.get(key)) params.delete(key); });
    return params.toString();
  }

  function dataset(label, data, key, extra) {
    var color = COLORS[key] || "#555";
    return Object.assign({label: label, data: data, backgroundColor: color, borderColor: color}, extra || {});
  }

  function draw(name, config) {
    var canvas = document.getElementById("chart-" + name);
    if (window.reportCharts[name]) window.reportCharts[name].destroy();
    config.options = Object.assign({animation: false, responsive: true, maintainAspectRatio: false,
                                    plugins: {legend: {position: "bottom"}}}, config.options || {});
    window.reportCharts[name] = new window.Chart(canvas, config);
    canvas.closest(".report").dataset.drawn = "1";
  }

  function stacked() {
    return {scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true, ticks: {precision: 0}}}};
  }

  function render(data) {
    var days = data.days;
    draw("incidents", {type: "bar", data: {labels: days, datasets: ["explicit", "high_risk", "distress"].map(
      function (level) { return dataset(level, data.incidents_by_level[level], level); })}, options: stacked()});

    var ttc = data.time_to_claim.explicit;
    draw("time-to-claim", {type: "line", data: {labels: days, datasets: [
      dataset("p50", ttc.p50, "p50", {spanGaps: true}),
      dataset("p90", ttc.p90, "p90", {spanGaps: true}),
      dataset("target", days.map(function () { return ttc.target_seconds; }), "target",
              {borderDash: [6, 4], pointRadius: 0})
    ]}, options: {scales: {y: {beginAtZero: true}}}});

    draw("notifications", {type: "bar", data: {labels: days, datasets: ["delivered", "failed", "fell_through"].map(
      function (key) { return dataset(key.replace("_", " "), data.notifications[key], key); })}, options: stacked()});

    var t = data.takeovers;
    var sets = [dataset("taken over", t.claimed, "claimed", {stack: "actions"}),
                dataset("returned to AI", t.returned, "returned", {stack: "actions"})];
    Object.keys(t.resolved).forEach(function (outcome) {
      sets.push(dataset("resolved: " + outcome.replace("_", " "), t.resolved[outcome], outcome, {stack: "resolved"}));
    });
    draw("takeovers", {type: "bar", data: {labels: days, datasets: sets}, options: stacked()});

    draw("referrals", {type: "bar", data: {labels: days, datasets: ["explicit", "high_risk", "distress"].map(
      function (level) { return dataset(level, data.referrals[level], level); })}, options: stacked()});

    var groups = Object.keys(data.age_structure);
    draw("age-structure", {type: "bar", data: {labels: groups, datasets: [{
      label: "users with incidents", data: groups.map(function (g) { return data.age_structure[g]; }),
      backgroundColor: groups.map(function (g) { return COLORS[g]; })}]},
      options: {plugins: {legend: {display: false}}, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}});

    draw("reminders", {type: "bar", data: {labels: days, datasets: ["suggest_break", "remind_ai_identity",
      "dependence_reminder"].map(function (key) { return dataset(key.replace(/_/g, " "), data.reminders[key], key); })},
      options: stacked()});
  }

  function links() {
    var q = query();
    root.querySelectorAll("a.csv").forEach(function (a) {
      a.href = "/console/reports/" + a.dataset.csv + ".csv" + (q ? "?" + q : "");
    });
    var year = document.getElementById("referrals-year");
    var product = new FormData(form).get("product");
    year.href = year.href.split("?")[0] + (product ? "?product=" + encodeURIComponent(product) : "");
  }

  function load() {
    status.textContent = "";
    links();
    return fetch(root.dataset.url + "?" + query(), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
          return body;
        });
      })
      .then(function (data) { render(data); root.dataset.loaded = "1"; })
      .catch(function (error) { status.textContent = error.message; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    history.replaceState(null, "", "?" + query());
    load();
  });
  load();
})();
