/*
 * The test-send panel: find a user, fill the data variables, see the exact request as you type,
 * send once and show the result. Each step is one call to a JSON endpoint beside the page, which
 * does the work (search selector, sending.preview, sending.send_test); nothing is rendered here.
 * Without this file the page still works as a plain form.
 */
(function () {
  "use strict";

  var form = document.getElementById("send-form");
  if (!form) return;
  var search = document.getElementById("user-search");
  var results = document.getElementById("user-search-results");
  var selected = document.getElementById("selected-user");
  var previewBox = document.getElementById("preview-request");
  var previewError = document.getElementById("preview-error");
  var sendButton = document.getElementById("send-button");
  var sendProgress = document.getElementById("send-progress");
  var sendError = document.getElementById("send-error");
  var result = document.getElementById("send-result");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var SEARCH_DEBOUNCE_MS = 250;
  var PREVIEW_DEBOUNCE_MS = 300;
  var searchTimer = null;
  var previewTimer = null;
  var searchSequence = 0;
  var previewSequence = 0;
  var users = [];

  // The datalist is the no-JavaScript picker; the search list below replaces it.
  search.removeAttribute("list");

  function post(url) {
    return fetch(url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (payload) {
        return { status: response.status, payload: payload };
      });
    });
  }

  function firstError(payload) {
    if (payload.error) return payload.error;
    var errors = payload.errors || {};
    for (var field in errors) {
      if (errors[field].length) return errors[field][0].message;
    }
    return "The request was refused.";
  }

  // ------------------------------------------------------------------ user search

  function describeUser(user) {
    return [user.name, user.email].filter(Boolean).join(" · ");
  }

  function pickedUser() {
    return users.filter(function (user) {
      return user.user_id === search.value;
    })[0];
  }

  function showSelected() {
    var match = pickedUser();
    results.querySelectorAll(".user-search-result").forEach(function (button) {
      button.classList.toggle("selected", button.dataset.userId === search.value);
    });
    selected.textContent = match ? "Selected: " + match.user_id + (describeUser(match) ? " (" + describeUser(match) + ")" : "") : "";
  }

  function showUsers(found) {
    users = found;
    results.innerHTML = "";
    found.forEach(function (user) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "user-search-result";
      button.dataset.userId = user.user_id;
      var id = document.createElement("span");
      id.className = "user-id";
      id.textContent = user.user_id;
      var meta = document.createElement("span");
      meta.className = "user-meta";
      meta.textContent = describeUser(user);
      button.appendChild(id);
      button.appendChild(meta);
      item.appendChild(button);
      results.appendChild(item);
    });
    if (!found.length) {
      var none = document.createElement("li");
      none.className = "panel-note user-search-none";
      none.textContent = "No user matches.";
      results.appendChild(none);
    }
    showSelected();
    if (pickedUser()) refreshPreview();  // typed or pasted an exact user id
  }

  function runSearch() {
    var mine = ++searchSequence;
    fetch(form.dataset.searchUrl + "?q=" + encodeURIComponent(search.value), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : { users: [] };
      })
      .then(function (payload) {
        if (mine === searchSequence) showUsers(payload.users);
      });
  }

  // A pick closes the list so the data variables and the preview move up into view; typing
  // in the search field, or coming back to it, opens the list again.
  search.addEventListener("input", function () {
    results.hidden = false;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, SEARCH_DEBOUNCE_MS);
  });
  search.addEventListener("focus", function () {
    results.hidden = false;
  });
  results.addEventListener("click", function (event) {
    var button = event.target.closest(".user-search-result");
    if (!button) return;
    search.value = button.dataset.userId;
    results.hidden = true;
    showSelected();
    refreshPreview();
  });

  // ------------------------------------------------------------------ live preview

  function showPreviewError(message) {
    previewBox.textContent = "";
    previewBox.classList.remove("preview-hint");
    previewError.textContent = message;
    previewError.hidden = false;
  }

  function showPreviewHint(message) {
    // Not a problem, just not there yet: said in the preview box, not in red.
    previewError.hidden = true;
    previewBox.textContent = message;
    previewBox.classList.add("preview-hint");
  }

  function refreshPreview() {
    clearTimeout(previewTimer);
    if (search.value.trim() === "") {
      showPreviewHint("Pick a user to see the request.");
      return;
    }
    if (!pickedUser()) {
      // Half a name typed is not a user yet: say so, rather than ask the server and show its refusal.
      showPreviewHint("Pick a user from the list to see the request.");
      return;
    }
    var unfilled = Array.prototype.filter
      .call(form.querySelectorAll(".data-variable-input"), function (input) {
        return input.value === "";
      })
      .map(function (input) {
        return input.dataset.variable;
      });
    if (unfilled.length) {
      // Not filled in yet, like the user above: a hint. (Sending as it is fails, naming the variable.)
      showPreviewHint("Fill in " + unfilled.join(", ") + " to see the request.");
      return;
    }
    var mine = ++previewSequence;
    post(form.dataset.previewUrl)
      .then(function (answer) {
        if (mine !== previewSequence) return;
        var payload = answer.payload;
        if (payload.ok) {
          var request = payload.request;
          var lines = [request.method + " " + request.url];
          request.headers.forEach(function (header) {
            lines.push(header[0] + ": " + header[1]);
          });
          previewBox.textContent = lines.join("\n") + "\n\n" + request.body;
          previewBox.classList.remove("preview-hint");
          previewError.hidden = true;
        } else if (payload.failure_reason) {
          showPreviewError(payload.failure_reason + ": " + payload.error);
        } else {
          showPreviewError(firstError(payload));
        }
      })
      .catch(function () {
        showPreviewError("The preview could not be loaded; check the connection and type again.");
      });
  }

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(refreshPreview, PREVIEW_DEBOUNCE_MS);
  }

  form.addEventListener("input", schedulePreview);

  // ------------------------------------------------------------------ send and result

  function text(id, value) {
    document.getElementById(id).textContent = value;
  }

  function prettyBody(body) {
    try {
      return JSON.stringify(JSON.parse(body), null, 2);
    } catch (error) {
      return body;
    }
  }

  function showResult(delivery) {
    var status = document.getElementById("result-status");
    status.textContent = delivery.status;
    status.className = "result-status " + delivery.status;
    text("result-status-code", delivery.response_status_code === null ? "no response" : String(delivery.response_status_code));
    text("result-duration", delivery.duration_ms === null ? "" : delivery.duration_ms + " ms");
    var failure = document.getElementById("result-failure");
    failure.hidden = !delivery.failure_reason;
    failure.textContent = delivery.failure_reason ? delivery.failure_reason + ": " + delivery.error_message : "";
    text(
      "result-response-headers",
      delivery.response_headers
        .map(function (header) {
          return header[0] + ": " + header[1];
        })
        .join("\n")
    );
    text("result-response-body", prettyBody(delivery.response_body));
    document.getElementById("result-response-truncated").hidden = !delivery.response_body_truncated;
    document.getElementById("result-history-link").href = delivery.history_url;
    result.hidden = false;
  }

  function send() {
    sendButton.disabled = true;
    sendProgress.hidden = false;
    sendError.hidden = true;
    post(form.dataset.sendUrl)
      .then(function (answer) {
        if (answer.payload.ok) {
          showResult(answer.payload.delivery);
        } else {
          sendError.textContent = firstError(answer.payload);
          sendError.hidden = false;
        }
      })
      .catch(function () {
        sendError.textContent = "The send could not be confirmed; check the send history before sending again.";
        sendError.hidden = false;
      })
      .finally(function () {
        sendButton.disabled = false;
        sendProgress.hidden = true;
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (event.submitter && event.submitter.id === "send-button") {
      send();
    } else {
      refreshPreview();
    }
  });

  if (search.value !== "") {
    results.hidden = true;  // the user is picked already (a link from a user's page)
    runSearch();
    refreshPreview();
  }
})();
