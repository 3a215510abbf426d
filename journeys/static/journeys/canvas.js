/*
 * The journey canvas: draws a journey's graph (GET /api/v1/journeys/<id>), lets staff add,
 * drag, connect, configure and delete nodes, and saves the whole graph back with PATCH in the
 * DESIGN.md "Journey graph" shape. Node keys are chosen here ("n1", "n2", ...) and never
 * renumbered, so a graph saved unchanged comes back unchanged. Plain DOM and SVG, no library.
 */
(function () {
  "use strict";

  const cfg = JSON.parse(document.getElementById("journey-canvas-config").textContent);
  const GRID = 10;
  const NODE_WIDTH = 200;
  const GAP = 50;
  const STATS_EVERY_MS = 3000;
  const TYPE_LABELS = {
    entry: "Entry",
    delay: "Delay",
    condition: "Condition",
    split: "A/B split",
    webhook: "Webhook",
    exit: "Exit",
  };
  const TYPE_HINTS = {
    entry: "Where users start",
    delay: "Wait before the next step",
    condition: "Branch on a user or event value",
    split: "Send users down random branches",
    webhook: "Send a request for the user",
    exit: "End of the journey",
  };
  const OP_LABELS = {
    equals: "equals",
    not_equals: "does not equal",
    contains: "contains",
    exists: "exists",
    greater: "is greater than",
    less: "is less than",
  };
  const COUNT_LABELS = [
    ["entered", "Entered"],
    ["waiting", "Waiting"],
    ["success", "Success"],
    ["failure", "Failure"],
  ];
  const FIELD_SUGGESTIONS = [
    "name", "email", "phoneNumber", "country", "language", "timeZone", "userId",
    "tags.", "entry_event.type", "entry_event.data.",
  ];

  const state = {
    journey: null, // the journey as the API last returned it
    settings: null, // journey settings being edited
    nodes: [],
    edges: [],
    webhooks: [],
    stats: {},
    runs: {},
    selectedKey: null,
    selectedEdge: null, // index into state.edges
    dirty: false,
    connecting: null, // {from, branch, sticky}
    dragging: null,
    busy: false,
  };

  const app = document.getElementById("journey-app");
  const canvas = document.getElementById("journey-canvas");
  const nodesLayer = document.getElementById("journey-nodes");
  const svg = document.getElementById("journey-edges");
  const palette = document.getElementById("palette");
  const nodePanel = document.getElementById("node-panel");
  const settingsPanel = document.getElementById("journey-settings");
  const problemsList = document.getElementById("journey-problems");
  const message = document.getElementById("journey-message");
  const SVG_NS = "http://www.w3.org/2000/svg";

  // ------------------------------------------------------------------ small DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }

  function field(labelText, input, help) {
    const id = input.id || "";
    return el("div", { class: "panel-field" }, el("label", { for: id, text: labelText }), input, help ? el("p", { class: "panel-help", text: help }) : null);
  }

  function options(select, values, current) {
    for (const [value, label] of values) {
      select.append(el("option", { value: String(value), text: label, selected: String(value) === String(current) }));
    }
    return select;
  }

  function cookie(name) {
    const match = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
    return match ? decodeURIComponent(match.slice(name.length + 1)) : "";
  }

  // ------------------------------------------------------------------ API

  async function api(method, path, body) {
    const url = cfg.apiBase + path + (path.includes("?") ? "&" : "?") + "project=" + encodeURIComponent(cfg.project);
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRFToken"] = cookie("csrftoken");
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      return { ok: false, status: 0, data: { detail: "The server could not be reached: " + error.message } };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  }

  function problemsOf(data, status) {
    if (!data) return [`The server answered ${status} without details.`];
    if (typeof data === "string") return [data];
    const problems = [];
    for (const [name, value] of Object.entries(data)) {
      const items = Array.isArray(value) ? value : [value];
      for (const item of items) {
        const text = typeof item === "string" ? item : JSON.stringify(item);
        problems.push(["journey", "graph", "detail", "non_field_errors"].includes(name) ? text : `${name}: ${text}`);
      }
    }
    return problems.length ? problems : [`The server answered ${status}.`];
  }

  // ------------------------------------------------------------------ graph model

  function isEditable() {
    return cfg.mayEdit && state.journey && !["active", "archived"].includes(state.journey.status);
  }

  function nodeByKey(key) {
    return state.nodes.find((node) => node.key === key) || null;
  }

  function branchesOf(node) {
    switch (node.type) {
      case "entry":
      case "delay":
        return [""];
      case "condition":
        return ["true", "false"];
      case "webhook":
        return ["success", "failure"];
      case "split":
        return (node.config.branches || []).map((branch) => String(branch.key || ""));
      default:
        return [];
    }
  }

  function nextKey() {
    const used = new Set(state.nodes.map((node) => node.key));
    let highest = 0;
    for (const key of used) {
      const match = /^n(\d+)$/.exec(key);
      if (match) highest = Math.max(highest, Number(match[1]));
    }
    let number = highest + 1;
    while (used.has("n" + number)) number += 1;
    return "n" + number;
  }

  function defaultConfig(type) {
    switch (type) {
      case "delay":
        return { minutes: 0 };
      case "condition":
        return { field: "", op: "equals", value: "" };
      case "split":
        return { branches: [{ key: "a", percent: 50 }, { key: "b", percent: 50 }] };
      case "webhook":
        return { webhook: null, data: {}, response_to_tags: {} };
      default:
        return {};
    }
  }

  function snap(value) {
    return Math.max(0, Math.round(value / GRID) * GRID);
  }

  function overlaps(x, y) {
    return state.nodes.some((node) => Math.abs(node.position.x - x) < NODE_WIDTH + 20 && Math.abs(node.position.y - y) < 120);
  }

  function freeSpot() {
    const anchor = nodeByKey(state.selectedKey);
    if (anchor) {
      // To the right of the selected node, or below it when that would leave the visible area.
      let x = anchor.position.x + NODE_WIDTH + GAP;
      let y = anchor.position.y;
      if (x + NODE_WIDTH > canvas.scrollLeft + canvas.clientWidth - 20) {
        x = anchor.position.x;
        y = anchor.position.y + 170;
      }
      while (overlaps(x, y)) y += 150;
      return { x, y };
    }
    const left = snap(canvas.scrollLeft + 40);
    const top = snap(canvas.scrollTop + 40);
    const columns = Math.max(1, Math.floor((canvas.clientWidth - 40) / (NODE_WIDTH + GAP)));
    for (let row = 0; row < 40; row += 1) {
      for (let column = 0; column < columns; column += 1) {
        const x = left + column * (NODE_WIDTH + GAP);
        const y = top + row * 150;
        if (!overlaps(x, y)) return { x, y };
      }
    }
    return { x: left, y: top };
  }

  /** Nodes saved through the API without positions are laid out left to right, a column per step. */
  function layoutMissing() {
    const missing = state.nodes.filter((node) => typeof node.position.x !== "number" || typeof node.position.y !== "number");
    if (!missing.length) return;
    // Longest path from the entry, so a node reached by a short and a long way sits after both.
    const depth = {};
    const entry = state.nodes.find((node) => node.type === "entry");
    if (entry) depth[entry.key] = 0;
    for (let round = 0; round < state.nodes.length; round += 1) {
      let moved = false;
      for (const edge of state.edges) {
        if (depth[edge.from] !== undefined && (depth[edge.to] === undefined || depth[edge.to] < depth[edge.from] + 1)) {
          depth[edge.to] = depth[edge.from] + 1;
          moved = true;
        }
      }
      if (!moved) break;
    }
    const taken = new Set(state.nodes.filter((node) => !missing.includes(node)).map((node) => `${node.position.x},${node.position.y}`));
    for (const node of missing) {
      const column = depth[node.key] !== undefined ? Math.min(depth[node.key], state.nodes.length) : 0;
      const x = 40 + column * (NODE_WIDTH + GAP);
      let y = 40;
      while (taken.has(`${x},${y}`)) y += 170;
      taken.add(`${x},${y}`);
      node.position = { x, y };
    }
  }

  function markDirty() {
    state.dirty = true;
    document.getElementById("journey-dirty").hidden = false;
  }

  function connect(from, branch, to) {
    if (from === to) return;
    const target = nodeByKey(to);
    if (!target || target.type === "entry") {
      say("An entry node starts the journey; nothing leads into it.", true);
      return;
    }
    state.edges = state.edges.filter((edge) => !(edge.from === from && (edge.branch || "") === branch));
    state.edges.push({ from, to, branch });
    markDirty();
    render();
  }

  function deleteNode(key) {
    state.nodes = state.nodes.filter((node) => node.key !== key);
    state.edges = state.edges.filter((edge) => edge.from !== key && edge.to !== key);
    if (state.selectedKey === key) state.selectedKey = null;
    state.selectedEdge = null;
    markDirty();
    render();
    renderPanel();
  }

  function deleteEdge(index) {
    state.edges.splice(index, 1);
    state.selectedEdge = null;
    markDirty();
    render();
    renderPanel();
  }

  function addNode(type) {
    if (!isEditable()) return;
    if (type === "entry" && state.nodes.some((node) => node.type === "entry")) {
      say("A journey has one entry node.", true);
      return;
    }
    const node = { key: nextKey(), type, config: defaultConfig(type), position: freeSpot() };
    const previous = nodeByKey(state.selectedKey);
    state.nodes.push(node);
    // Adding after a selected node with a free single exit connects the two, as most editors do.
    if (previous && type !== "entry") {
      const free = branchesOf(previous).filter((branch) => !state.edges.some((edge) => edge.from === previous.key && (edge.branch || "") === branch));
      if (free.length && branchesOf(previous).length === 1) state.edges.push({ from: previous.key, to: node.key, branch: free[0] });
    }
    state.selectedKey = node.key;
    state.selectedEdge = null;
    markDirty();
    render();
    renderPanel();
  }

  // ------------------------------------------------------------------ node summaries

  function webhookById(id) {
    return state.webhooks.find((webhook) => webhook.id === id) || null;
  }

  function summary(node) {
    const config = node.config || {};
    switch (node.type) {
      case "entry": {
        const event = state.settings && state.settings.entryEvent;
        return event ? `On event “${event}”` : "Entered through the API";
      }
      case "delay":
        if (config.until_time) return `Until ${config.until_time} (user's time)`;
        for (const unit of ["minutes", "hours", "days"]) {
          if (config[unit] !== undefined && config[unit] !== null) {
            const amount = Number(config[unit]);
            return amount === 0 ? "No wait" : `Wait ${amount} ${amount === 1 ? unit.slice(0, -1) : unit}`;
          }
        }
        return "Set how long to wait";
      case "condition":
        if (!config.field) return "Set a condition";
        return config.op === "exists" ? `${config.field} exists` : `${config.field} ${OP_LABELS[config.op] || config.op} “${config.value ?? ""}”`;
      case "split":
        return (config.branches || []).map((branch) => `${branch.key} ${branch.percent}%`).join(" · ") || "Set branches";
      case "webhook": {
        const webhook = webhookById(config.webhook);
        if (webhook) return webhook.name;
        return config.webhook ? `Webhook #${config.webhook}` : "Pick a webhook";
      }
      case "exit":
        return "End of journey";
      default:
        return "";
    }
  }

  // ------------------------------------------------------------------ drawing

  function render() {
    const editable = isEditable();
    app.classList.toggle("is-readonly", !editable);
    nodesLayer.replaceChildren();
    for (const node of state.nodes) nodesLayer.append(renderNode(node, editable));
    document.getElementById("journey-empty").hidden = state.nodes.length > 0;
    sizeLayers();
    drawEdges();
    updatePalette();
  }

  function renderNode(node, editable) {
    const counts = state.stats[node.key] || {};
    const ports = branchesOf(node).map((branch) =>
      el(
        "div",
        { class: "port-row" + (branch ? "" : " port-row-single") },
        branch ? el("span", { class: "port-label branch-" + branch, text: branch }) : null,
        el("button", {
          type: "button",
          class: "port port-out branch-" + (branch || "next") + (state.edges.some((edge) => edge.from === node.key && (edge.branch || "") === branch) ? " is-connected" : ""),
          "data-branch": branch,
          "data-key": node.key,
          title: editable ? `Drag to the next node${branch ? ` (${branch})` : ""}, or click then click a node` : `Output${branch ? ` (${branch})` : ""}`,
          "aria-label": `Connect ${node.key}${branch ? ` ${branch}` : ""}`,
          disabled: !editable,
        }),
      ),
    );
    const box = el(
      "div",
      {
        class: `journey-node type-${node.type}` + (node.key === state.selectedKey ? " is-selected" : "") + (state.connecting && state.connecting.from === node.key ? " is-connecting" : ""),
        "data-key": node.key,
        "data-type": node.type,
        tabindex: "0",
        style: `left:${node.position.x}px; top:${node.position.y}px; width:${NODE_WIDTH}px`,
      },
      node.type !== "entry" ? el("span", { class: "port port-in", title: "Input" }) : null,
      el("div", { class: "node-head" }, el("span", { class: "node-type", text: TYPE_LABELS[node.type] || node.type }), el("span", { class: "node-key", text: node.key })),
      el("div", { class: "node-summary", text: summary(node), title: summary(node) }),
      el(
        "div",
        { class: "node-counts" },
        COUNT_LABELS.map(([name, label]) =>
          el("span", { class: "count count-" + name, title: label }, el("span", { class: "count-value", "data-count": name, text: String(counts[name] || 0) }), el("span", { class: "count-label", text: label })),
        ),
      ),
      ports.length ? el("div", { class: "node-ports" }, ports) : null,
    );
    return box;
  }

  function sizeLayers() {
    let width = canvas.clientWidth;
    let height = canvas.clientHeight;
    for (const node of state.nodes) {
      width = Math.max(width, node.position.x + NODE_WIDTH + 300);
      height = Math.max(height, node.position.y + 400);
    }
    nodesLayer.style.width = width + "px";
    nodesLayer.style.height = height + "px";
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
  }

  function centerOf(element) {
    const layer = nodesLayer.getBoundingClientRect();
    const box = element.getBoundingClientRect();
    return { x: box.left - layer.left + box.width / 2, y: box.top - layer.top + box.height / 2 };
  }

  function curve(a, b) {
    // Edges leave to the right and arrive from the left; one going backwards swings wider.
    const bend = b.x >= a.x ? Math.max(40, (b.x - a.x) / 2) : Math.max(80, Math.abs(b.y - a.y) / 2);
    return { p1: { x: a.x + bend, y: a.y }, p2: { x: b.x - bend, y: b.y } };
  }

  function pointOn(a, p1, p2, b, t) {
    const u = 1 - t;
    const at = (k) => u * u * u * a[k] + 3 * u * u * t * p1[k] + 3 * u * t * t * p2[k] + t * t * t * b[k];
    return { x: at("x"), y: at("y") };
  }

  function drawEdges() {
    svg.replaceChildren(markers());
    state.edges.forEach((edge, index) => {
      const source = nodesLayer.querySelector(`.journey-node[data-key="${CSS.escape(edge.from)}"] .port-out[data-branch="${CSS.escape(edge.branch || "")}"]`);
      const target = nodesLayer.querySelector(`.journey-node[data-key="${CSS.escape(edge.to)}"] .port-in`);
      if (!source || !target) return;
      const a = centerOf(source);
      const b = centerOf(target);
      const { p1, p2 } = curve(a, b);
      const d = `M ${a.x} ${a.y} C ${p1.x} ${p1.y}, ${p2.x} ${p2.y}, ${b.x - 6} ${b.y}`;
      const branch = edge.branch || "";
      const kind = ["success", "true"].includes(branch) ? "good" : ["failure", "false"].includes(branch) ? "bad" : branch ? "split" : "plain";
      const group = svgEl("g", {
        class: `journey-edge edge-${kind}` + (state.selectedEdge === index ? " is-selected" : ""),
        "data-from": edge.from,
        "data-to": edge.to,
        "data-branch": branch,
        "data-index": String(index),
      });
      group.append(svgEl("path", { class: "edge-hit", d }));
      group.append(svgEl("path", { class: "edge-line", d, "marker-end": `url(#arrow-${kind})` }));
      if (branch) {
        // Near the source, so two branches into the same node keep their labels apart.
        const mid = pointOn(a, p1, p2, b, 0.3);
        const width = 10 + branch.length * 7;
        group.append(svgEl("rect", { class: "edge-label-bg", x: mid.x - width / 2, y: mid.y - 10, width, height: 20, rx: 10 }));
        const text = svgEl("text", { class: "edge-label", x: mid.x, y: mid.y + 4, "text-anchor": "middle" });
        text.textContent = branch;
        group.append(text);
      }
      group.addEventListener("click", (event) => {
        event.stopPropagation();
        state.selectedEdge = index;
        state.selectedKey = null;
        render();
        renderPanel();
      });
      svg.append(group);
    });
    if (state.connecting && state.connecting.pointer) {
      const source = nodesLayer.querySelector(`.journey-node[data-key="${CSS.escape(state.connecting.from)}"] .port-out[data-branch="${CSS.escape(state.connecting.branch)}"]`);
      if (source) {
        const a = centerOf(source);
        const b = state.connecting.pointer;
        const { p1, p2 } = curve(a, b);
        svg.append(svgEl("path", { class: "edge-draft", d: `M ${a.x} ${a.y} C ${p1.x} ${p1.y}, ${p2.x} ${p2.y}, ${b.x} ${b.y}` }));
      }
    }
  }

  function markers() {
    const defs = svgEl("defs", {});
    for (const kind of ["plain", "good", "bad", "split"]) {
      const marker = svgEl("marker", { id: "arrow-" + kind, viewBox: "0 0 10 10", refX: "8", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
      marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-" + kind }));
      defs.append(marker);
    }
    return defs;
  }

  function updateCounts() {
    for (const box of nodesLayer.querySelectorAll(".journey-node")) {
      const counts = state.stats[box.dataset.key] || {};
      for (const value of box.querySelectorAll(".count-value")) {
        value.textContent = String(counts[value.dataset.count] || 0);
      }
    }
    const runs = state.runs || {};
    const total = Object.values(runs).reduce((sum, count) => sum + count, 0);
    document.getElementById("journey-runs").textContent = total
      ? `${total} run${total === 1 ? "" : "s"}: ${(runs.active || 0) + (runs.waiting || 0)} in progress, ${runs.completed || 0} completed, ${runs.exited || 0} exited`
      : "No runs yet";
  }

  function updatePalette() {
    const hasEntry = state.nodes.some((node) => node.type === "entry");
    for (const button of palette.querySelectorAll("button[data-type]")) {
      button.disabled = !isEditable() || (button.dataset.type === "entry" && hasEntry);
    }
  }

  function updateToolbar() {
    const status = state.journey.status;
    const badge = document.getElementById("journey-status");
    badge.textContent = status;
    badge.dataset.status = status;
    badge.className = "journey-status status-" + status;
    document.getElementById("journey-name").textContent = state.settings.name || "(unnamed journey)";
    const editable = isEditable();
    const readonly = document.getElementById("journey-readonly");
    readonly.hidden = editable;
    readonly.textContent =
      status === "active"
        ? "Active journeys cannot be edited: pause it or duplicate it."
        : status === "archived"
          ? "Archived journeys cannot be edited: duplicate it to make an editable draft."
          : "You may view this journey but not change it.";
    document.getElementById("save-journey").hidden = !editable;
    document.getElementById("activate-journey").hidden = !cfg.mayEdit || !["draft", "paused"].includes(status);
    document.getElementById("activate-journey").textContent = status === "paused" ? "Resume" : "Activate";
    document.getElementById("pause-journey").hidden = !cfg.mayEdit || status !== "active";
    document.getElementById("duplicate-journey").hidden = !cfg.mayEdit;
    palette.hidden = !editable;
    document.getElementById("journey-dirty").hidden = !state.dirty;
  }

  // ------------------------------------------------------------------ side panel

  function renderPanel() {
    const editable = isEditable();
    nodePanel.replaceChildren();
    if (state.selectedEdge !== null && state.edges[state.selectedEdge]) {
      const edge = state.edges[state.selectedEdge];
      nodePanel.append(
        el("h2", { text: "Connection" }),
        el("p", { class: "panel-text" }, el("code", { text: edge.from }), edge.branch ? ` (${edge.branch})` : "", " → ", el("code", { text: edge.to })),
        editable ? el("button", { type: "button", id: "delete-edge", class: "button danger", text: "Delete connection", onclick: () => deleteEdge(state.selectedEdge) }) : null,
      );
      return;
    }
    const node = nodeByKey(state.selectedKey);
    if (!node) {
      nodePanel.append(
        el("h2", { text: "Node" }),
        el("p", { class: "panel-help", text: editable ? "Select a node to configure it. Drag a node to move it; drag from its output port (right edge) to another node to connect them. Delete removes the selection." : "Select a node to see its settings." }),
      );
      return;
    }
    nodePanel.append(el("h2", {}, `${TYPE_LABELS[node.type]} `, el("code", { class: "panel-key", text: node.key })));
    const body = el("div", { class: "panel-body", "data-key": node.key });
    nodePanel.append(body);
    const builders = { entry: entryPanel, delay: delayPanel, condition: conditionPanel, split: splitPanel, webhook: webhookPanel, exit: exitPanel };
    builders[node.type](node, body);
    if (!editable) {
      for (const input of body.querySelectorAll("input, select, textarea, button")) input.disabled = true;
    } else {
      nodePanel.append(el("div", { class: "panel-actions" }, el("button", { type: "button", id: "delete-node", class: "button danger", text: "Delete node", onclick: () => deleteNode(node.key) })));
    }
  }

  function changed(node) {
    markDirty();
    const box = nodesLayer.querySelector(`.journey-node[data-key="${CSS.escape(node.key)}"]`);
    if (box) {
      box.querySelector(".node-summary").textContent = summary(node);
      box.querySelector(".node-summary").title = summary(node);
    }
  }

  function entryPanel(node, body) {
    body.append(el("p", { class: "panel-help", text: "Users enter here when the journey's entry event happens, or through the API (POST /api/v1/journeys/<id>/enrol). Set the event and an optional filter under Journey settings." }));
  }

  function exitPanel(node, body) {
    body.append(el("p", { class: "panel-help", text: "A run that reaches this node is completed. Nothing to configure." }));
  }

  function delayPanel(node, body) {
    const config = node.config;
    const unit = ["minutes", "hours", "days"].find((name) => config[name] !== undefined && config[name] !== null) || "minutes";
    const mode = options(el("select", { id: "delay-mode" }), [["for", "For a time"], ["until", "Until a time of day"]], config.until_time ? "until" : "for");
    const amount = el("input", { id: "delay-amount", type: "number", min: "0", step: "1", value: String(config[unit] ?? 0) });
    const unitSelect = options(el("select", { id: "delay-unit" }), [["minutes", "minutes"], ["hours", "hours"], ["days", "days"]], unit);
    const until = el("input", { id: "delay-until", type: "time", value: config.until_time || "09:00" });
    const forRow = el("div", { class: "panel-field delay-for" }, el("label", { for: "delay-amount", text: "Wait" }), el("div", { class: "inline" }, amount, unitSelect));
    const untilRow = field("Until (in the user's time zone, UTC if unknown)", until);
    const apply = () => {
      forRow.hidden = mode.value !== "for";
      untilRow.hidden = mode.value !== "until";
      node.config = mode.value === "until" ? { until_time: until.value } : { [unitSelect.value]: Math.max(0, parseInt(amount.value || "0", 10) || 0) };
    };
    for (const input of [mode, amount, unitSelect, until]) {
      input.addEventListener("input", () => {
        apply();
        changed(node);
      });
    }
    body.append(field("Delay", mode), forRow, untilRow);
    forRow.hidden = mode.value !== "for";
    untilRow.hidden = mode.value !== "until";
  }

  function conditionEditor(prefix, config, onChange) {
    const fieldInput = el("input", { id: prefix + "-field", type: "text", value: config.field || "", placeholder: "tags.plan or entry_event.data.amount", list: prefix + "-fields", autocomplete: "off" });
    const suggestions = el("datalist", { id: prefix + "-fields" }, FIELD_SUGGESTIONS.map((value) => el("option", { value })));
    const op = options(el("select", { id: prefix + "-op" }), cfg.conditionOps.map((name) => [name, OP_LABELS[name] || name]), config.op || "equals");
    const value = el("input", { id: prefix + "-value", type: "text", value: config.value === undefined || config.value === null ? "" : String(config.value) });
    const valueRow = field("Value", value);
    valueRow.hidden = op.value === "exists";
    const apply = () => {
      valueRow.hidden = op.value === "exists";
      onChange({ field: fieldInput.value.trim(), op: op.value, value: op.value === "exists" ? null : value.value });
    };
    for (const input of [fieldInput, op, value]) input.addEventListener("input", apply);
    return [field("Field", fieldInput, "A user attribute (email, country...), a tag (tags.plan) or entry-event data (entry_event.data.amount)."), suggestions, field("Operator", op), valueRow];
  }

  function conditionPanel(node, body) {
    body.append(
      ...conditionEditor("condition", node.config, (config) => {
        node.config = config;
        changed(node);
      }),
      el("p", { class: "panel-help", text: "Users for whom it holds go down “true”, the others down “false”." }),
    );
  }

  function splitPanel(node, body) {
    const rows = el("div", { class: "split-branches" });
    const total = el("p", { class: "panel-help split-total" });
    const refresh = () => {
      const sum = (node.config.branches || []).reduce((acc, branch) => acc + (Number(branch.percent) || 0), 0);
      total.textContent = `Total: ${sum}%` + (sum === 100 ? "" : " (must be 100%)");
      total.classList.toggle("is-wrong", sum !== 100);
    };
    const draw = () => {
      rows.replaceChildren();
      (node.config.branches || []).forEach((branch, index) => {
        const key = el("input", { class: "split-key", type: "text", value: branch.key, "aria-label": "Branch key", maxlength: "100" });
        const percent = el("input", { class: "split-percent", type: "number", min: "0", max: "100", step: "1", value: String(branch.percent), "aria-label": "Percent" });
        key.addEventListener("change", () => {
          const old = branch.key;
          const fresh = key.value.trim();
          if (!fresh || (node.config.branches || []).some((other) => other !== branch && other.key === fresh)) {
            key.value = old;
            say("Split branches need distinct, non-empty keys.", true);
            return;
          }
          branch.key = fresh;
          for (const edge of state.edges) if (edge.from === node.key && edge.branch === old) edge.branch = fresh;
          changed(node);
          render();
        });
        percent.addEventListener("input", () => {
          branch.percent = Math.max(0, parseInt(percent.value || "0", 10) || 0);
          refresh();
          changed(node);
        });
        const remove = el("button", {
          type: "button",
          class: "button small remove-split-branch",
          text: "Remove",
          disabled: (node.config.branches || []).length <= 2,
          onclick: () => {
            node.config.branches.splice(index, 1);
            state.edges = state.edges.filter((edge) => !(edge.from === node.key && edge.branch === branch.key));
            changed(node);
            draw();
            render();
          },
        });
        rows.append(el("div", { class: "split-branch inline" }, key, percent, el("span", { text: "%" }), remove));
      });
      refresh();
    };
    draw();
    const add = el("button", {
      type: "button",
      id: "add-split-branch",
      class: "button small",
      text: "Add branch",
      onclick: () => {
        const keys = new Set(node.config.branches.map((branch) => branch.key));
        let letter = 0;
        while (keys.has(String.fromCharCode(97 + letter))) letter += 1;
        node.config.branches.push({ key: String.fromCharCode(97 + letter), percent: 0 });
        changed(node);
        draw();
        render();
      },
    });
    body.append(el("label", { text: "Branches (key and percent of users)" }), rows, total, add);
  }

  function webhookPanel(node, body) {
    const config = node.config;
    config.data = config.data || {};
    const select = el("select", { id: "webhook-select" });
    select.append(el("option", { value: "", text: "— pick a webhook —" }));
    for (const webhook of state.webhooks) {
      select.append(el("option", { value: String(webhook.id), text: webhook.name + (webhook.is_active ? "" : " (inactive)"), selected: webhook.id === config.webhook }));
    }
    if (config.webhook && !webhookById(config.webhook)) {
      select.append(el("option", { value: String(config.webhook), text: `#${config.webhook} (not in this project)`, selected: true }));
    }
    const variables = el("div", { class: "webhook-variables" });
    const drawVariables = () => {
      variables.replaceChildren();
      const webhook = webhookById(config.webhook);
      if (!webhook) return;
      const names = webhook.data_variables || [];
      variables.append(el("h3", { text: "Data variables" }));
      if (!names.length) {
        variables.append(el("p", { class: "panel-help", text: "This webhook has no data variables: it is personalised from the user alone." }));
      }
      for (const name of names) {
        const input = el("textarea", { class: "data-var", "data-name": name, id: "data-var-" + name, rows: "2", placeholder: "Liquid, e.g. Hello {{ name }}" });
        input.value = config.data[name] ?? "";
        input.addEventListener("input", () => {
          config.data[name] = input.value;
          changed(node);
        });
        variables.append(field(name, input));
      }
      variables.append(el("p", { class: "panel-help", text: "Each value is a Liquid template over the user ({{ name }}, {{ tags.plan }}) and {{ entry_event.data.… }}." }));
    };
    select.addEventListener("input", () => {
      config.webhook = select.value ? Number(select.value) : null;
      const webhook = webhookById(config.webhook);
      const names = webhook ? webhook.data_variables || [] : [];
      config.data = Object.fromEntries(names.map((name) => [name, config.data[name] ?? ""]));
      drawVariables();
      changed(node);
    });
    drawVariables();

    const mappingRows = el("div", { class: "mapping-rows" });
    const readMapping = () => {
      const mapping = {};
      for (const row of mappingRows.querySelectorAll(".mapping-row")) {
        const path = row.querySelector(".mapping-path").value.trim();
        const tag = row.querySelector(".mapping-tag").value.trim();
        if (path) mapping[path] = tag;
      }
      config.response_to_tags = mapping;
      changed(node);
    };
    const addRow = (path, tag) => {
      const row = el(
        "div",
        { class: "mapping-row inline" },
        el("input", { class: "mapping-path", type: "text", value: path, placeholder: "coupon.code", "aria-label": "JSON path in the response", oninput: readMapping }),
        el("span", { class: "mapping-arrow", text: "→" }),
        el("input", { class: "mapping-tag", type: "text", value: tag, placeholder: "coupon_code", "aria-label": "Tag name", oninput: readMapping }),
      );
      row.append(el("button", { type: "button", class: "button small", text: "Remove", onclick: () => { row.remove(); readMapping(); } }));
      mappingRows.append(row);
    };
    for (const [path, tag] of Object.entries(config.response_to_tags || {})) addRow(path, tag);
    body.append(
      field("Webhook", select, state.webhooks.length ? null : "This project has no webhooks yet: create one under Webhooks."),
      variables,
      el("h3", { text: "Response mapping (optional)" }),
      el("p", { class: "panel-help", text: "Save values from a 2xx JSON response into the user's tags, for later nodes ({{ tags.coupon_code }})." }),
      mappingRows,
      el("button", { type: "button", id: "add-mapping", class: "button small", text: "Add mapping", onclick: () => addRow("", "") }),
      el("p", { class: "panel-help", text: "Users go down “success” when the delivery succeeds (after retries) and “failure” otherwise." }),
    );
  }

  function renderSettings() {
    const s = state.settings;
    const editable = isEditable();
    settingsPanel.replaceChildren(el("h2", { text: "Journey settings" }));
    const body = el("div", { class: "panel-body" });
    const name = el("input", { id: "journey-name-input", type: "text", value: s.name, maxlength: "200" });
    const entryEvent = el("input", { id: "entry-event", type: "text", value: s.entryEvent, placeholder: "signup", maxlength: "200" });
    const policy = options(el("select", { id: "reentry-policy" }), [["once", "Once per user"], ["after_hours", "Again after N hours"], ["always", "Every time (one run at a time)"]], s.reentryPolicy);
    const hours = el("input", { id: "reentry-hours", type: "number", min: "1", step: "1", value: s.reentryHours ?? "" });
    const hoursRow = field("Hours before a user may enter again", hours);
    hoursRow.hidden = s.reentryPolicy !== "after_hours";
    const exits = el("input", { id: "exit-events", type: "text", value: s.exitEvents.join(", "), placeholder: "unsubscribe, purchase" });
    name.addEventListener("input", () => {
      s.name = name.value;
      document.getElementById("journey-name").textContent = s.name || "(unnamed journey)";
      markDirty();
    });
    entryEvent.addEventListener("input", () => {
      s.entryEvent = entryEvent.value.trim();
      for (const node of state.nodes) if (node.type === "entry") changed(node);
      markDirty();
    });
    policy.addEventListener("input", () => {
      s.reentryPolicy = policy.value;
      hoursRow.hidden = s.reentryPolicy !== "after_hours";
      markDirty();
    });
    hours.addEventListener("input", () => {
      s.reentryHours = hours.value ? parseInt(hours.value, 10) : null;
      markDirty();
    });
    exits.addEventListener("input", () => {
      s.exitEvents = exits.value.split(",").map((part) => part.trim()).filter(Boolean);
      markDirty();
    });
    const filter = el("details", { class: "entry-filter", open: Boolean(s.filter.field) }, el("summary", { text: "Entry filter (optional)" }));
    filter.append(
      ...conditionEditor("entry-filter", s.filter, (config) => {
        s.filter = config;
        markDirty();
      }),
    );
    body.append(
      field("Name", name),
      field("Entry event", entryEvent, "The event type that enrols users; leave empty to enrol through the API only."),
      filter,
      field("Re-entry", policy),
      hoursRow,
      field("Exit events", exits, "Comma-separated event types that take a user out of the journey."),
    );
    if (!editable) for (const input of body.querySelectorAll("input, select, textarea, button")) input.disabled = true;
    settingsPanel.append(body);
  }

  // ------------------------------------------------------------------ loading and saving

  function load(journey) {
    state.journey = journey;
    state.settings = {
      name: journey.name,
      entryEvent: (journey.entry && journey.entry.event) || "",
      filter: Object.assign({ field: "", op: "equals", value: "" }, (journey.entry && journey.entry.filter) || {}),
      reentryPolicy: (journey.reentry && journey.reentry.policy) || "once",
      reentryHours: (journey.reentry && journey.reentry.hours) || null,
      exitEvents: journey.exit_events || [],
    };
    state.nodes = (journey.nodes || []).map((node) => ({
      key: node.key,
      type: node.type,
      config: JSON.parse(JSON.stringify(node.config || {})),
      position: Object.assign({}, node.position || {}),
    }));
    state.edges = (journey.edges || []).map((edge) => ({ from: edge.from, to: edge.to, branch: edge.branch || "" }));
    if (state.selectedKey && !nodeByKey(state.selectedKey)) state.selectedKey = null;
    state.selectedEdge = null;
    state.dirty = false;
    layoutMissing();
    updateToolbar();
    render();
    renderPanel();
    renderSettings();
  }

  function payload() {
    const s = state.settings;
    const filter = s.filter && s.filter.field ? { field: s.filter.field, op: s.filter.op, value: s.filter.op === "exists" ? null : s.filter.value } : null;
    return {
      name: s.name,
      entry: { event: s.entryEvent, filter },
      reentry: { policy: s.reentryPolicy, hours: s.reentryPolicy === "after_hours" ? s.reentryHours : null },
      exit_events: s.exitEvents,
      nodes: state.nodes.map((node) => ({ key: node.key, type: node.type, config: node.config, position: { x: node.position.x, y: node.position.y } })),
      edges: state.edges.map((edge) => (edge.branch ? { from: edge.from, to: edge.to, branch: edge.branch } : { from: edge.from, to: edge.to })),
    };
  }

  function say(text, isError) {
    message.textContent = text;
    message.classList.toggle("is-error", Boolean(isError));
    clearTimeout(say.timer);
    if (text && !isError) say.timer = setTimeout(() => (message.textContent = ""), 4000);
  }

  function showProblems(title, problems) {
    problemsList.replaceChildren();
    problemsList.hidden = !problems.length;
    if (!problems.length) return;
    problemsList.append(el("li", { class: "problems-title", text: title }));
    for (const problem of problems) {
      const item = el("li", { class: "problem", text: problem });
      const match = /Node '([^']+)'/.exec(problem);
      if (match && nodeByKey(match[1])) {
        item.classList.add("goto");
        item.title = "Select this node";
        item.addEventListener("click", () => select(match[1]));
      }
      problemsList.append(item);
    }
  }

  async function withBusy(work) {
    if (state.busy) return;
    state.busy = true;
    app.classList.add("is-busy");
    try {
      await work();
    } finally {
      state.busy = false;
      app.classList.remove("is-busy");
    }
  }

  async function save() {
    const result = await api("PATCH", `journeys/${cfg.journeyId}`, payload());
    if (!result.ok) {
      showProblems("The journey was not saved:", problemsOf(result.data, result.status));
      say("Not saved", true);
      return false;
    }
    showProblems("", []);
    load(result.data);
    say("Saved");
    return true;
  }

  async function transition(action, done) {
    const result = await api("POST", `journeys/${cfg.journeyId}/${action}`);
    if (!result.ok) {
      showProblems(action === "activate" ? "The journey cannot be activated yet:" : `Could not ${action} the journey:`, problemsOf(result.data, result.status));
      say(`Not ${action}d`, true);
      return;
    }
    showProblems("", []);
    load(result.data);
    say(done);
    refreshStats();
  }

  function select(key) {
    state.selectedKey = key;
    state.selectedEdge = null;
    for (const box of nodesLayer.querySelectorAll(".journey-node")) box.classList.toggle("is-selected", box.dataset.key === key);
    drawEdges();
    renderPanel();
  }

  async function refreshStats() {
    if (document.hidden) return;
    const result = await api("GET", `journeys/${cfg.journeyId}/stats`);
    if (!result.ok || !result.data) return;
    state.stats = result.data.nodes || {};
    state.runs = result.data.runs || {};
    updateCounts();
  }

  // ------------------------------------------------------------------ pointer interaction

  function layerPoint(event) {
    const layer = nodesLayer.getBoundingClientRect();
    return { x: event.clientX - layer.left, y: event.clientY - layer.top };
  }

  function nodeAt(event) {
    const hit = document.elementFromPoint(event.clientX, event.clientY);
    const box = hit && hit.closest ? hit.closest(".journey-node") : null;
    return box && nodesLayer.contains(box) ? box.dataset.key : null;
  }

  function stopConnecting() {
    state.connecting = null;
    canvas.classList.remove("is-connecting");
    for (const box of nodesLayer.querySelectorAll(".is-connecting")) box.classList.remove("is-connecting");
    drawEdges();
  }

  nodesLayer.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    const port = event.target.closest(".port-out");
    const box = event.target.closest(".journey-node");
    if (!box) return;
    if (port) {
      if (!isEditable()) return;
      event.preventDefault();
      event.stopPropagation();
      state.connecting = { from: box.dataset.key, branch: port.dataset.branch, start: layerPoint(event), pointer: layerPoint(event), moved: false, sticky: false };
      canvas.classList.add("is-connecting");
      box.classList.add("is-connecting");
      return;
    }
    if (state.connecting && state.connecting.sticky) return; // finished by the click handler
    if (state.selectedKey !== box.dataset.key) select(box.dataset.key);
    if (!isEditable()) return;
    const node = nodeByKey(box.dataset.key);
    const point = layerPoint(event);
    state.dragging = { node, box, dx: point.x - node.position.x, dy: point.y - node.position.y, moved: false };
    box.classList.add("is-dragging");
    event.preventDefault();
    box.focus({ preventScroll: true });
  });

  window.addEventListener("pointermove", (event) => {
    if (state.dragging) {
      const point = layerPoint(event);
      const drag = state.dragging;
      const x = snap(point.x - drag.dx);
      const y = snap(point.y - drag.dy);
      if (x !== drag.node.position.x || y !== drag.node.position.y) {
        drag.node.position = { x, y };
        drag.box.style.left = x + "px";
        drag.box.style.top = y + "px";
        drag.moved = true;
        drawEdges();
      }
    } else if (state.connecting) {
      state.connecting.pointer = layerPoint(event);
      const start = state.connecting.start;
      if (Math.abs(state.connecting.pointer.x - start.x) + Math.abs(state.connecting.pointer.y - start.y) > 6) state.connecting.moved = true;
      for (const box of nodesLayer.querySelectorAll(".journey-node.is-target")) box.classList.remove("is-target");
      const over = nodeAt(event);
      if (over && over !== state.connecting.from) {
        const target = nodesLayer.querySelector(`.journey-node[data-key="${CSS.escape(over)}"]`);
        if (target) target.classList.add("is-target");
      }
      drawEdges();
    }
  });

  window.addEventListener("pointerup", (event) => {
    if (state.dragging) {
      const drag = state.dragging;
      drag.box.classList.remove("is-dragging");
      state.dragging = null;
      if (drag.moved) {
        markDirty();
        sizeLayers();
        drawEdges();
      }
      return;
    }
    if (!state.connecting) return;
    for (const box of nodesLayer.querySelectorAll(".journey-node.is-target")) box.classList.remove("is-target");
    const connecting = state.connecting;
    if (connecting.sticky) return;
    const target = nodeAt(event);
    if (target && target !== connecting.from) {
      stopConnecting();
      connect(connecting.from, connecting.branch, target);
    } else if (!connecting.moved) {
      // A click on a port: the next click on a node finishes the connection.
      connecting.sticky = true;
      say("Click the node to connect to (Esc cancels).");
    } else {
      stopConnecting();
    }
  });

  nodesLayer.addEventListener("click", (event) => {
    if (!state.connecting || !state.connecting.sticky) return;
    if (event.target.closest(".port-out")) return;
    const box = event.target.closest(".journey-node");
    const connecting = state.connecting;
    stopConnecting();
    say("");
    if (box && box.dataset.key !== connecting.from) connect(connecting.from, connecting.branch, box.dataset.key);
  });

  canvas.addEventListener("pointerdown", (event) => {
    if (event.target.closest(".journey-node") || event.target.closest(".journey-edge")) return;
    if (state.connecting) {
      stopConnecting();
      say("");
    }
    if (state.selectedKey || state.selectedEdge !== null) {
      state.selectedKey = null;
      state.selectedEdge = null;
      render();
      renderPanel();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.connecting) {
      stopConnecting();
      say("");
      return;
    }
    if (!["Delete", "Backspace"].includes(event.key) || !isEditable()) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (state.selectedEdge !== null) {
      event.preventDefault();
      deleteEdge(state.selectedEdge);
    } else if (state.selectedKey) {
      event.preventDefault();
      deleteNode(state.selectedKey);
    }
  });

  // ------------------------------------------------------------------ toolbar and start

  function buildPalette() {
    for (const type of cfg.nodeTypes) {
      palette.append(
        el(
          "button",
          { type: "button", class: "palette-item type-" + type, "data-type": type, title: TYPE_HINTS[type], onclick: () => addNode(type) },
          el("span", { class: "palette-name", text: TYPE_LABELS[type] || type }),
          el("span", { class: "palette-hint", text: TYPE_HINTS[type] }),
        ),
      );
    }
  }

  document.getElementById("save-journey").addEventListener("click", () => withBusy(save));
  document.getElementById("activate-journey").addEventListener("click", () =>
    withBusy(async () => {
      if (isEditable() && state.dirty && !(await save())) return;
      await transition("activate", "Active: users now enter on “" + (state.settings.entryEvent || "the API") + "”.");
    }),
  );
  document.getElementById("pause-journey").addEventListener("click", () =>
    withBusy(() => transition("pause", "Paused: nobody new enters, and runs hold where they are.")),
  );
  document.getElementById("duplicate-journey").addEventListener("click", () =>
    withBusy(async () => {
      if (isEditable() && state.dirty && !(await save())) return;
      const result = await api("POST", `journeys/${cfg.journeyId}/duplicate`);
      if (!result.ok) {
        showProblems("Could not duplicate the journey:", problemsOf(result.data, result.status));
        return;
      }
      state.dirty = false;
      window.location.assign(cfg.canvasUrl.replace("{id}", String(result.data.id)));
    }),
  );
  window.addEventListener("beforeunload", (event) => {
    if (state.dirty && isEditable()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  window.addEventListener("resize", () => {
    sizeLayers();
    drawEdges();
  });

  async function start() {
    buildPalette();
    document.querySelector(".journey-title").append(el("span", { id: "journey-runs", class: "journey-runs" }));
    const [journey, webhooks] = await Promise.all([api("GET", `journeys/${cfg.journeyId}`), api("GET", "webhooks")]);
    if (!journey.ok) {
      showProblems("The journey could not be loaded:", problemsOf(journey.data, journey.status));
      return;
    }
    state.webhooks = webhooks.ok && Array.isArray(webhooks.data) ? webhooks.data : [];
    load(journey.data);
    app.dataset.loading = "false";
    await refreshStats();
    setInterval(refreshStats, STATS_EVERY_MS);
  }

  start();
})();
