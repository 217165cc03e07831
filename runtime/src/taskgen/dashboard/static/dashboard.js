// Live figures: poll the dashboard's JSON every second and update the page in place.
// The server formats every figure, so this script only copies text.
"use strict";

const EVERY_MS = 1000;

function poll(url, apply) {
  let busy = false;
  const tick = async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" } });
      if (answer.ok) apply(await answer.json());
    } catch (_) {
      // The server is away for a moment (a restart); the next tick tries again.
    } finally {
      busy = false;
    }
  };
  setInterval(tick, EVERY_MS);
}

function liveQueues(table) {
  poll(table.dataset.poll, (queues) => {
    for (const queue of queues) {
      const row = table.querySelector(`tr[data-queue="${CSS.escape(queue.name)}"]`);
      if (!row) continue;
      for (const [field, text] of Object.entries(queue.figures)) {
        const cell = row.querySelector(`[data-field="${field}"]`);
        if (cell && cell.textContent !== text) cell.textContent = text;
      }
      const line = row.querySelector(".spark polyline");
      if (line) line.setAttribute("points", queue.spark);
    }
  });
}

function liveStatus(badge) {
  // A task page reloads when its task changes state, so it shows the result once it ends.
  const progress = document.getElementById("progress");
  poll(badge.dataset.poll, (info) => {
    if (!info) return;
    if (info.status !== badge.dataset.status) location.reload();
    else if (progress && progress.textContent !== info.progress) progress.textContent = info.progress;
  });
}

document.querySelectorAll("table[data-poll]").forEach(liveQueues);
document.querySelectorAll("#status[data-poll]").forEach(liveStatus);
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!confirm(form.dataset.confirm)) event.preventDefault();
  });
});
