/*
 * The webhook form's live editor: JSON checks and pretty-print for the body, key/value rows for
 * form bodies, and the data variables and problems of the templates as you type.
 *
 * What is wrong with a template is only ever decided by the server (the analyze endpoint runs the
 * same service checks as save); this file only shows it. The JSON check here is a typing aid: a
 * body may hold Liquid between members and be JSON only once rendered, which the server allows.
 * Loaded only for staff who may edit; the form works without it.
 */
(function () {
  "use strict";

  var config = document.getElementById("webhook-editor-config");
  var form = document.getElementById("webhook_form");
  var body = document.getElementById("id_body");
  var bodyType = document.getElementById("id_body_type");
  if (!config || !form || !body || !bodyType) {
    return;
  }
  var ANALYZED = ["method", "url", "headers_rows", "body_type", "body"];
  var DEBOUNCE_MS = 300;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function lineColumn(text, index) {
    var before = text.slice(0, index);
    var line = before.split("\n").length;
    return { line: line, column: index - (before.lastIndexOf("\n") + 1) + 1 };
  }

  // ------------------------------------------------------------------ a JSON reader with positions
  // JSON.parse's messages differ by browser and often carry no position, so a small reader of
  // our own says where the document breaks.

  function checkJson(text) {
    var i = 0;

    function fail(message, at) {
      var error = new Error(message);
      error.index = at === undefined ? i : at;
      throw error;
    }
    function space() {
      while (i < text.length && " \t\n\r".indexOf(text[i]) >= 0) i++;
    }
    function describe() {
      return i >= text.length ? "the end of the text" : "'" + text[i] + "'";
    }
    function string() {
      var start = i;
      i++;
      while (i < text.length) {
        var c = text[i];
        if (c === '"') {
          i++;
          return;
        }
        if (c === "\\") {
          var next = text[i + 1];
          if (next === "u") {
            if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail("a \\u escape needs four hex digits", i);
            i += 6;
          } else if (next !== undefined && '"\\/bfnrt'.indexOf(next) >= 0) {
            i += 2;
          } else {
            fail("unknown escape '\\" + (next || "") + "' in a string", i);
          }
          continue;
        }
        if (c < " ") fail(c === "\n" ? "a line break inside a string (write \\n)" : "a control character inside a string", i);
        i++;
      }
      fail("a string is never closed", start);
    }
    function number() {
      var match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
      if (!match) fail("unexpected " + describe());
      i += match[0].length;
    }
    function value() {
      space();
      var c = text[i];
      if (c === "{") return object();
      if (c === "[") return array();
      if (c === '"') return string();
      if (c === "-" || (c >= "0" && c <= "9")) return number();
      var literal = /^(true|false|null)/.exec(text.slice(i));
      if (literal) {
        i += literal[0].length;
        return;
      }
      fail(i >= text.length ? "the text ends where a value was expected" : "unexpected " + describe() + " where a value was expected");
    }
    function object() {
      i++;
      space();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        space();
        if (text[i] !== '"') fail("expected a member name in double quotes, found " + describe());
        string();
        space();
        if (text[i] !== ":") fail("expected ':' after the member name, found " + describe());
        i++;
        value();
        space();
        if (text[i] === ",") {
          i++;
          space();
          if (text[i] === "}") fail("a comma before '}' (trailing commas are not JSON)");
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        fail("expected ',' or '}' after a member, found " + describe());
      }
    }
    function array() {
      i++;
      space();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        space();
        if (text[i] === ",") {
          i++;
          space();
          if (text[i] === "]") fail("a comma before ']' (trailing commas are not JSON)");
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        fail("expected ',' or ']' after an item, found " + describe());
      }
    }

    value();
    space();
    if (i < text.length) fail("unexpected " + describe() + " after the end of the JSON value");
  }

  // Liquid outside JSON strings ({% if %} between members, {{ n }} as a number) means the body is
  // only JSON after rendering; Liquid segments are skipped whole, so their own quotes do not count.
  function liquidOutsideStrings(text) {
    var inString = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (c === "{" && (text[i + 1] === "{" || text[i + 1] === "%")) {
        if (!inString) return true;
        var end = text.indexOf(text[i + 1] === "{" ? "}}" : "%}", i + 2);
        if (end < 0) return false;
        i = end + 1;
        continue;
      }
      if (inString && c === "\\") {
        i++;
      } else if (c === '"') {
        inString = !inString;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ body tools

  var tools = el("div", { id: "body-tools", class: "body-tools" });
  var prettyButton = el("button", { type: "button", id: "body-pretty-print", class: "button" }, "Pretty-print");
  var jsonStatus = el("span", { id: "body-json-status", class: "json-status", role: "status", "aria-live": "polite" });
  tools.appendChild(prettyButton);
  tools.appendChild(jsonStatus);
  body.insertAdjacentElement("afterend", tools);

  var formRows = el("div", { id: "body-form-editor", class: "body-form-editor", hidden: "" });
  formRows.innerHTML =
    '<table id="body-form-rows" class="body-form-rows"><thead><tr><th>Field</th><th>Value (Liquid allowed)</th><th></th></tr></thead><tbody></tbody></table>' +
    '<button type="button" class="button" id="body-form-add">Add field</button>' +
    '<p class="help" id="body-form-note">Sent as application/x-www-form-urlencoded; the body below is the same fields as a JSON object.</p>';
  body.insertAdjacentElement("beforebegin", formRows);
  var formRowsBody = formRows.querySelector("tbody");

  function showJsonStatus() {
    var text = body.value;
    var type = bodyType.value;
    jsonStatus.className = "json-status";
    prettyButton.hidden = !(type === "json" || type === "form");
    if (!(type === "json" || type === "form") || text.trim() === "") {
      jsonStatus.textContent = "";
      prettyButton.disabled = text.trim() === "";
      return;
    }
    try {
      checkJson(text);
      jsonStatus.textContent = "✓ valid JSON";
      jsonStatus.classList.add("json-valid");
      prettyButton.disabled = false;
    } catch (error) {
      prettyButton.disabled = true;
      if (type === "json" && liquidOutsideStrings(text)) {
        jsonStatus.textContent = "Not JSON until rendered: Liquid sits outside strings, so the rendered body is checked at send time.";
        jsonStatus.classList.add("json-pending");
      } else {
        var where = lineColumn(text, error.index);
        jsonStatus.textContent = "JSON error: " + error.message + " (line " + where.line + ", column " + where.column + ")";
        jsonStatus.classList.add("json-invalid");
      }
    }
  }

  prettyButton.addEventListener("click", function () {
    try {
      checkJson(body.value);
    } catch (error) {
      return;
    }
    body.value = JSON.stringify(JSON.parse(body.value), null, 2);
    body.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // ------------------------------------------------------------------ form body rows

  function addFormRow(key, value) {
    var row = el("tr", { class: "body-form-row" });
    row.innerHTML =
      '<td><input type="text" class="body-form-key monospace" size="24" aria-label="Field name"></td>' +
      '<td><input type="text" class="body-form-value monospace" size="50" aria-label="Field value"></td>' +
      '<td><button type="button" class="button body-form-remove" aria-label="Remove field">×</button></td>';
    row.querySelector(".body-form-key").value = key;
    row.querySelector(".body-form-value").value = value;
    formRowsBody.appendChild(row);
    return row;
  }

  function formObject(text) {
    if (text.trim() === "") return {};
    try {
      var parsed = JSON.parse(text);
    } catch (error) {
      return null;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    var allText = Object.keys(parsed).every(function (key) {
      return typeof parsed[key] === "string";
    });
    return allText ? parsed : null;
  }

  function rowsFromBody() {
    var object = formObject(body.value);
    var note = document.getElementById("body-form-note");
    if (object === null) {
      note.textContent = "The body below is not a JSON object of field names to text; editing these rows replaces it.";
      note.classList.add("json-invalid");
      return;
    }
    note.textContent = "Sent as application/x-www-form-urlencoded; the body below is the same fields as a JSON object.";
    note.classList.remove("json-invalid");
    formRowsBody.innerHTML = "";
    Object.keys(object).forEach(function (key) {
      addFormRow(key, object[key]);
    });
    if (!Object.keys(object).length) addFormRow("", "");
  }

  function bodyFromRows() {
    var object = {};
    formRowsBody.querySelectorAll(".body-form-row").forEach(function (row) {
      var key = row.querySelector(".body-form-key").value;
      if (key !== "") object[key] = row.querySelector(".body-form-value").value;
    });
    body.value = Object.keys(object).length ? JSON.stringify(object, null, 2) : "";
    showJsonStatus();
    scheduleAnalysis();
  }

  formRows.addEventListener("input", function (event) {
    event.stopPropagation();
    bodyFromRows();
  });
  formRows.addEventListener("click", function (event) {
    if (event.target.id === "body-form-add") {
      addFormRow("", "").querySelector(".body-form-key").focus();
    } else if (event.target.classList.contains("body-form-remove")) {
      event.target.closest(".body-form-row").remove();
      bodyFromRows();
    }
  });

  function showBodyEditor() {
    var type = bodyType.value;
    formRows.hidden = type !== "form";
    if (type === "form") rowsFromBody();
    body.closest(".form-row").classList.toggle("body-none", type === "none");
    showJsonStatus();
  }

  body.addEventListener("input", function () {
    showJsonStatus();
    if (bodyType.value === "form") rowsFromBody();
  });
  bodyType.addEventListener("change", showBodyEditor);

  // ------------------------------------------------------------------ data variables and problems

  var variablesList = document.getElementById("data-variables");
  var variablesNone = document.getElementById("data-variables-none");
  var timer = null;
  var sequence = 0;

  function problemList(field) {
    var id = "problems-" + field;
    var list = document.getElementById(id);
    if (list) return list;
    list = el("ul", { id: id, class: "errorlist live-problems", "data-field": field, "aria-live": "polite" });
    var row = form.querySelector(".form-row.field-" + field);
    if (row) {
      (field === "body" ? tools : row.lastElementChild || row).insertAdjacentElement("afterend", list);
    } else {
      var top = document.getElementById("problems-general") || form.insertBefore(el("ul", { id: "problems-general", class: "errorlist live-problems" }), form.firstChild);
      return top;
    }
    return list;
  }

  function goTo(textarea, line, column) {
    var lines = textarea.value.split("\n");
    var index = 0;
    for (var n = 0; n < line - 1 && n < lines.length; n++) index += lines[n].length + 1;
    index += Math.max(column - 1, 0);
    textarea.focus();
    textarea.setSelectionRange(index, index);
  }

  function showAnalysis(result) {
    variablesList.innerHTML = "";
    result.data_variables.forEach(function (name) {
      var item = el("li", { class: "data-variable" });
      item.appendChild(el("code", {}, name));
      variablesList.appendChild(item);
    });
    if (variablesNone) variablesNone.hidden = result.data_variables.length > 0;

    // The live problems replace what the server said on the last save, for the fields they cover.
    ANALYZED.forEach(function (field) {
      var row = form.querySelector(".form-row.field-" + field);
      if (row) {
        row.querySelectorAll("ul.errorlist:not(.live-problems)").forEach(function (list) {
          list.remove();
        });
        row.classList.remove("errors");
      }
    });
    form.querySelectorAll("ul.live-problems").forEach(function (list) {
      list.innerHTML = "";
    });
    result.problems.forEach(function (problem) {
      var where = problem.line ? " (line " + problem.line + ", column " + problem.column + ")" : "";
      var item = el("li", { class: "live-problem" }, problem.message + where);
      if (problem.field === "body" && problem.line) {
        item.classList.add("goto");
        item.title = "Go to line " + problem.line + ", column " + problem.column;
        item.addEventListener("click", function () {
          goTo(body, problem.line, problem.column);
        });
      }
      problemList(problem.field || "general").appendChild(item);
    });
    form.classList.toggle("has-live-problems", result.problems.length > 0);
  }

  function analyze() {
    var mine = ++sequence;
    var data = new FormData(form);
    fetch(config.dataset.analyzeUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": data.get("csrfmiddlewaretoken") || "" },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (result) {
        if (result && mine === sequence) showAnalysis(result);
      })
      .catch(function () {
        // An analysis that did not arrive changes nothing; save still checks everything.
      });
  }

  function scheduleAnalysis() {
    clearTimeout(timer);
    timer = setTimeout(analyze, DEBOUNCE_MS);
  }

  form.addEventListener("input", scheduleAnalysis);
  form.addEventListener("change", scheduleAnalysis);
  // The header rows widget adds rows with its own script; a new row is analysed when typed in.

  showBodyEditor();
  if (config.dataset.analyzeOnLoad === "true" || document.getElementById("id_url").value !== "") {
    analyze();
  }
})();
