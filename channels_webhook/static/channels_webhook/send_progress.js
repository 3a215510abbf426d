/* The webhook page's "Recent sends to many users": asks for their progress every two seconds
 * while one runs (every ten otherwise, so a send started from the API or another tab shows
 * up), updates the rows in place and adds new ones. The numbers come from the console's JSON
 * endpoint (history selectors); nothing is computed here. */
(function () {
  "use strict";
  var list = document.getElementById("send-progress-list");
  if (!list) return;
  var RUNNING_POLL_MS = 2000;
  var IDLE_POLL_MS = 10000;
  var BAR_PX = 160;
  var SHOWN = 5;
  var table = list.querySelector("table");
  var body = table.querySelector("tbody");
  var none = document.getElementById("send-progress-none");
  var csrf = document.querySelector("input[name=csrfmiddlewaretoken]");

  function running() {
    return list.querySelectorAll("tr.send-progress[data-running='true']").length > 0;
  }

  function cell(className, style) {
    var td = document.createElement("td");
    if (className) td.className = className;
    if (style) td.setAttribute("style", style);
    return td;
  }

  function cancelForm(sendId) {
    var form = document.createElement("form");
    form.method = "post";
    form.className = "send-cancel-form";
    form.action = list.dataset.cancelUrl.replace("00000000-0000-0000-0000-000000000000", sendId);
    var token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrfmiddlewaretoken";
    token.value = csrf ? csrf.value : "";
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "button send-cancel";
    button.title = "Deliveries not yet sent end as cancelled";
    button.textContent = "Cancel";
    form.append(token, button);
    return form;
  }

  function newRow(send) {
    var row = document.createElement("tr");
    row.className = "send-progress";
    row.dataset.sendId = send.id;
    var started = cell();
    started.textContent = send.created_at.replace("T", " ").slice(0, 19);
    var bar = document.createElement("div");
    bar.className = "send-bar";
    bar.setAttribute("style", "background:#eee;height:8px;width:160px;display:flex");
    var ok = document.createElement("span");
    ok.className = "send-bar-success";
    ok.setAttribute("style", "background:#1b7f3b;width:0px");
    var bad = document.createElement("span");
    bad.className = "send-bar-failure";
    bad.setAttribute("style", "background:#b3261e;width:0px");
    bar.append(ok, bad);
    var barCell = cell("", "min-width:160px");
    barCell.append(bar);
    var state = cell("send-state");
    if (list.dataset.cancelUrl && !send.cancelled_at && send.pending > 0) state.append(cancelForm(send.id));
    row.append(
      started,
      cell("send-done"),
      cell("send-success", "color:#1b7f3b"),
      cell("send-failure", "color:#b3261e"),
      cell("send-pending"),
      barCell,
      state
    );
    return row;
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
        // Newest first, as the server lists them; a send not on the page yet goes on top.
        payload.sends.slice().reverse().forEach(function (send) {
          var row = list.querySelector("tr.send-progress[data-send-id='" + send.id + "']");
          if (!row) {
            row = newRow(send);
            body.insertBefore(row, body.firstChild);
          }
          show(row, send);
        });
        while (body.children.length > SHOWN) body.removeChild(body.lastChild);
        table.hidden = body.children.length === 0;
        if (none) none.hidden = body.children.length > 0;
      })
      .finally(function () {
        setTimeout(poll, running() ? RUNNING_POLL_MS : IDLE_POLL_MS);
      });
  }

  // Cancelling cannot be undone: ask first (rows added later included, hence on the list).
  list.addEventListener("submit", function (event) {
    if (!event.target.classList.contains("send-cancel-form")) return;
    if (!window.confirm("Cancel this send? Deliveries not yet sent end as cancelled; this cannot be undone.")) {
      event.preventDefault();
    }
  });

  setTimeout(poll, running() ? RUNNING_POLL_MS : IDLE_POLL_MS);
})();
