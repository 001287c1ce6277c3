// Live stats dashboard: refetch stats.json every ~15 s, update the tiles and
// redraw the scans-per-hour chart. The page is complete without this script.
// The chart geometry mirrors bar_chart() in webapp/organize/stats.py: keep
// the two in step.
(() => {
  "use strict";

  const root = document.querySelector("[data-stats-url]");
  if (!root) return;

  const SVG = "http://www.w3.org/2000/svg";
  // Across in % of the width, down in px (see bar_chart() for why).
  const TOP = 28, BOTTOM = 34, NARROWEST = 320, LABEL_ROOM = 56, VALUE_ROOM = 24, MAX_BAR = 14;
  const url = root.dataset.statsUrl;
  const zone = root.dataset.timezone || "UTC";
  const every = (parseInt(root.dataset.refreshSeconds, 10) || 15) * 1000;
  const status = root.querySelector("[data-live-status]");
  const chartBox = root.querySelector("[data-chart]");
  const HEIGHT = Number(chartBox.dataset.height) || 260;

  const clock = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const weekday = new Intl.DateTimeFormat("en-GB", { timeZone: zone, weekday: "short" });
  const localDay = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" });
  const HOUR = 3600 * 1000;

  const percent = (rate) => `${Math.round(rate * 100)}%`;
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  function span(iso, withDay) {
    const start = new Date(iso), end = new Date(start.getTime() + HOUR);
    return `${withDay ? weekday.format(start) + " " : ""}${clock.format(start)}\u2013${clock.format(end)}`;
  }

  function spansDays(hours) {
    return hours.length > 0 && localDay.format(new Date(hours[0].hour)) !== localDay.format(new Date(hours[hours.length - 1].hour));
  }

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const round = (n) => Math.round(n * 10) / 10;

  function drawChart(hours, topHours) {
    chartBox.replaceChildren();
    if (hours.length === 0) {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "No scans yet. The chart fills in as people connect.";
      chartBox.append(empty);
      return;
    }
    const withDay = spansDays(hours);
    const slot = 100 / hours.length;
    const barWidth = Math.min(slot * 0.7, MAX_BAR);
    const slotPx = NARROWEST / hours.length;
    const labelEvery = Math.ceil(LABEL_ROOM / slotPx);
    const most = Math.max(...hours.map((h) => h.scans)) || 1;
    const standsOut = hours.some((h) => h.scans !== most);
    const plot = HEIGHT - TOP - BOTTOM;
    const svg = el("svg", { class: "chart-svg", width: "100%", height: HEIGHT, role: "img", "aria-labelledby": "chart-title chart-desc" });
    const busiest = topHours[0];
    const desc = `${plural(hours.length, "hour")} from ${clock.format(new Date(hours[0].hour))}` +
      (busiest ? `; busiest ${span(busiest.hour, withDay)} with ${busiest.scans} scans` : "") +
      `, in ${zone.replace(/_/g, " ")} time.`;
    svg.append(el("desc", { id: "chart-desc" }, desc));
    svg.append(el("line", { class: "chart-axis", x1: 0, y1: HEIGHT - BOTTOM, x2: "100%", y2: HEIGHT - BOTTOM }));
    const pct = (n) => `${Math.round(n * 1000) / 1000}%`;
    hours.forEach((h, i) => {
      const height = h.scans ? Math.max(round(plot * h.scans / most), 2) : 0;
      const y = round(HEIGHT - BOTTOM - height);
      const centre = pct((i + 0.5) * slot);
      const bar = el("rect", {
        class: standsOut && h.scans === most ? "chart-bar chart-bar-peak" : "chart-bar",
        x: pct(i * slot + (slot - barWidth) / 2), y, width: pct(barWidth), height, rx: 3,
      });
      bar.append(el("title", {}, `${span(h.hour, withDay)} \u00b7 ${plural(h.scans, "scan")}`));
      svg.append(bar);
      if (h.scans > 0 && slotPx >= VALUE_ROOM) {
        svg.append(el("text", { class: "chart-value", x: centre, y: round(y - 8), "text-anchor": "middle" }, String(h.scans)));
      }
      if (i % labelEvery === 0) {
        svg.append(el("text", { class: "chart-label", x: centre, y: HEIGHT - 10, "text-anchor": "middle" }, clock.format(new Date(h.hour))));
      }
    });
    chartBox.append(svg);
  }

  function drawTopHours(hours, topHours) {
    const list = root.querySelector("[data-top-hours]");
    const withDay = spansDays(hours);
    list.replaceChildren(...topHours.map((h) => {
      const item = document.createElement("li");
      const when = document.createElement("strong");
      when.textContent = span(h.hour, withDay);
      const count = document.createElement("span");
      count.className = "muted";
      count.textContent = plural(h.scans, "scan");
      item.append(when, " ", count);
      return item;
    }));
    root.querySelector("[data-top-hours-empty]").hidden = topHours.length > 0;
  }

  function setText(name, text) {
    for (const node of root.querySelectorAll(`[data-stat="${name}"]`)) node.textContent = text;
  }

  function render(stats) {
    for (const name of ["registered", "checked_in", "scans", "connections", "connected_attendees"]) {
      setText(name, String(stats[name]));
    }
    setText("checked_in_share", stats.registered ? `${percent(stats.checked_in / stats.registered)} of registered` : "");
    for (const name of ["followed_up_48h_rate", "followed_up_7d_rate"]) {
      setText(name, percent(stats[name]));
      const bar = root.querySelector(`[data-progress="${name}"]`);
      if (bar) bar.value = stats[name];
    }
    const perAttendee = stats.connections_per_attendee || {};
    if (perAttendee.median !== undefined) setText("median", String(round(perAttendee.median)));
    if (perAttendee.top_10_percent !== undefined) setText("top10", String(perAttendee.top_10_percent));
    const topHours = stats.most_connected_hours || [];
    drawChart(stats.scans_by_hour, topHours);
    drawTopHours(stats.scans_by_hour, topHours);
  }

  let timer = null;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, every);
  }

  async function refresh() {
    if (document.hidden) return; // resumes on visibilitychange
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      if (response.status === 401 || response.status === 404) {
        status.textContent = "Live updates stopped: sign in again to resume.";
        return; // no point retrying until the page is reloaded
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json());
      status.textContent = `Updated at ${clock.format(new Date())} (${zone.replace(/_/g, " ")} time).`;
    } catch (error) {
      status.textContent = "Couldn't update just now; trying again shortly.";
    }
    schedule();
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
    else clearTimeout(timer);
  });
  schedule();
})();
