// The page over the /v1 API: plain DOM, no build step; text always goes in as text.
"use strict";

const PLURAL = { turn: "turns", summary: "summaries", memory: "memories" };
const state = { key: sessionStorage.getItem("tiermem-key") || "", kind: "turn", session: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "className") node.className = value;
    else if (name === "style") Object.assign(node.style, value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function scope() {
  const out = {};
  const user = $("user-id").value.trim();
  const agent = $("agent-id").value.trim();
  if (user) out.user_id = user;
  if (agent) out.agent_id = agent;
  return out;
}

async function api(path, { method = "GET", params = {}, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    for (const one of [].concat(value)) if (one !== undefined && one !== null) url.searchParams.append(name, one);
  }
  const response = await fetch(url, {
    method,
    headers: { "Authorization": `Bearer ${state.key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(`${response.status}: ${typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)}`);
  return data;
}

function showError(error) { $("scope-error").textContent = error ? error.message : ""; }

async function useKey(event) {
  if (event) event.preventDefault();
  const typed = $("api-key").value.trim();
  if (typed) { state.key = typed; sessionStorage.setItem("tiermem-key", typed); }
  try {
    const who = await api("/v1/scopes");
    $("whoami").textContent = `key "${who.name}"${who.admin ? " (admin)" : ""}`;
    const users = $("granted-users");
    users.replaceChildren(...who.scopes.filter((s) => s.user_id).map((s) => el("option", { value: s.user_id })));
    const first = who.scopes[0];
    // a new key starts at its first grant: the fields may hold another key's scope
    if (first && (typed || (!$("user-id").value && !$("agent-id").value))) {
      $("user-id").value = first.user_id || "";
      $("agent-id").value = first.agent_id || "";
    }
    showError(null);
  } catch (error) { showError(error); }
}

async function loadScope() {
  try {
    const sessions = await api("/v1/sessions", { params: scope() });
    $("sessions").replaceChildren(...sessions.map((s) => {
      const item = el("li", { "data-session": s.session_id }, `${s.session_id} `, el("span", { className: "muted" }, `${s.turns} turns`));
      item.addEventListener("click", () => pickSession(s.session_id));
      return item;
    }));
    showError(null);
    await pickSession(sessions.length ? sessions[0].session_id : null);
  } catch (error) { showError(error); }
}

async function pickSession(session) {
  state.session = session;
  for (const item of $("sessions").children) item.classList.toggle("active", item.dataset.session === session);
  if (session) $("context-session").value = session;
  await loadRecords();
}

async function loadRecords() {
  const params = { ...scope(), kind: state.kind, limit: 200 };
  if (state.kind !== "memory" && state.session) params.session_id = state.session;
  try {
    const page = await api("/v1/records", { params });
    $("records-total").textContent = `${page.total} ${PLURAL[state.kind]}`;
    $("records").replaceChildren(...page.records.map((r) => el("li", { "data-id": r.id },
      el("span", { className: "muted" }, `${r.timestamp.slice(0, 16).replace("T", " ")} ${r.role || r.kind} `), r.text)));
    showError(null);
  } catch (error) { showError(error); }
}

async function search(event) {
  event.preventDefault();
  try {
    const hits = await api("/v1/search", { method: "POST", body: { query: $("search-query").value, k: 10, ...scope() } });
    $("hits").replaceChildren(...hits.map((h) => el("li", {},
      el("span", { className: "muted" }, `${h.score.toFixed(3)} `), h.record.text)));
    showError(null);
  } catch (error) { showError(error); }
}

const TIERS = [["short_term", "short-term turns"], ["medium_term", "summaries"], ["long_term", "long-term"]];
const PARTS = ["text", "vector", "recency", "importance"];

function partsBars(parts) {
  if (!parts) return el("span", { className: "muted" }, "-");
  const box = el("div", { className: "parts", title: PARTS.map((p) => `${p} ${parts[p].toFixed(2)}`).join(", ") });
  for (const name of PARTS) box.append(el("b", { style: { height: `${Math.max(2, parts[name] * 100)}%` }, "data-part": name }));
  return box;
}

async function buildContext(event) {
  event.preventDefault();
  const query = $("context-query").value.trim();
  const body = { ...scope(), session_id: $("context-session").value.trim() || "default",
                 max_tokens: Number($("context-budget").value) || 500 };
  if (query) body.query = query;
  try {
    const built = await api("/v1/context", { method: "POST", body });
    renderContext(built);
    showError(null);
  } catch (error) { showError(error); }
}

function renderContext(built) {
  $("context-result").hidden = false;
  $("budget-label").textContent = `${built.token_count} of ${built.max_tokens} tokens used; ` +
    `${built.decisions.filter((d) => d.kept).length} kept, ${built.decisions.filter((d) => !d.kept).length} left out`;
  const bar = $("budget-bar");
  bar.replaceChildren(...TIERS.filter(([tier]) => built.tokens_per_tier[tier] > 0).map(([tier, label]) =>
    el("div", { className: `tier-${tier}`, "data-tier": tier, title: `${label}: ${built.tokens_per_tier[tier]} tokens`,
                style: { width: `${(100 * built.tokens_per_tier[tier]) / built.max_tokens}%` } })));
  $("legend").replaceChildren(...TIERS.map(([tier, label]) =>
    el("span", {}, el("i", { className: `tier-${tier}` }), `${label} ${built.tokens_per_tier[tier] || 0}`)),
    el("span", {}, el("i", { style: { background: "var(--free)" } }), `unused ${built.max_tokens - built.token_count}`));
  const rows = built.decisions.map((d) => el("tr", { className: d.kept ? "kept" : "left" },
    el("td", { className: "mark" }, d.kept ? "kept" : "left"),
    el("td", {}, d.tier.replace("_term", "")),
    el("td", {}, d.tokens),
    el("td", {}, d.score.toFixed(3)),
    el("td", {}, partsBars(d.parts)),
    el("td", {}, d.reason),
    el("td", {}, d.records.map((r) => r.text).join(" / ").slice(0, 160))));
  document.querySelector("#candidates tbody").replaceChildren(...rows);
  $("context-text").textContent = built.text;
}

$("key-form").addEventListener("submit", useKey);
$("load-scope").addEventListener("click", loadScope);
$("search-form").addEventListener("submit", search);
$("context-form").addEventListener("submit", buildContext);
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    state.kind = tab.dataset.kind;
    for (const other of document.querySelectorAll(".tab")) other.classList.toggle("active", other === tab);
    loadRecords();
  });
}
if (state.key) useKey();
