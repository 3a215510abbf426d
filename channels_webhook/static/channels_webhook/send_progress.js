/* The webhook page's "Recent sends to many users": while a send runs, ask for its progress
 * every two seconds and update the row in place; stop when none runs. The numbers come from
 * the console's JSON endpoint (history selectors); nothing is computed here. */
(function () {
  "use strict";
  var list = document.getElementById("send-progress-list");
  if (!list) return;
  var POLL_MS = 2000;
  var BAR_PX = 160;

  function running() {
    return list.querySelectorAll("tr.send-progress[data-running='true']").length > 0;
  }

  function show(row, send) {
    row.querySelector(".send-done").textContent = send.done + " of " + send.total;
    row.querySelector(".send-success").textContent = send.success;
    row.querySelector(".send-failure").textContent =
      send.failure + (send.cancelled ? " (" + send.cancelled + " cancelled)" : "");
    row.querySelector(".send-pending").textContent = send.pending;
    var total = Math.max(send.total, 1);
    row.querySelector(".send-bar-success").style.width = Math.round((send.success / total) * BAR_PX) + "px";
    row.querySelector(".send-bar-failure").style.width = Math.round((send.failure / total) * BAR_PX) + "px";
    row.querySelector(".send-bar").title = send.done + " of " + send.total + " done";
    row.dataset.running = send.pending > 0 ? "true" : "false";
    if (send.cancelled_at) {
      row.querySelector(".send-state").textContent = "Cancelled";
    } else if (send.pending === 0) {
      row.querySelector(".send-state").textContent = "";
    }
  }

  function poll() {
    fetch(list.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : { sends: [] };
      })
      .then(function (payload) {
        payload.sends.forEach(function (send) {
          var row = list.querySelector("tr.send-progress[data-send-id='" + send.id + "']");
          if (row) show(row, send);
        });
      })
      .finally(function () {
        if (running()) setTimeout(poll, POLL_MS);
      });
  }

  if (running()) setTimeout(poll, POLL_MS);
})();
