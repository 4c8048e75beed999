// The web chat of `durable-assistants serve`: plain JS, no build step. EventSource cannot send
// an Authorization header, so answers are read with fetch and a ReadableStream, and the
// Server-Sent Events are parsed here.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN = "durable-assistants-token";
let site = { temporal_ui_url: "http://localhost:8233", namespace: "default" };
const runs = new Map(); // run workflow id -> its bubble's parts

function headers(extra = {}) {
  return { Authorization: `Bearer ${$("token").value.trim()}`, ...extra };
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function errorText(body, status) {
  const error = body && body.error;
  return error ? `${status}: ${error.message}` : `HTTP ${status}`;
}

function key() {
  return encodeURIComponent($("key").value.trim());
}

function uiLink(workflowId) {
  const base = site.temporal_ui_url.replace(/\/$/, "");
  return `${base}/namespaces/${encodeURIComponent(site.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

function runBubble(runId) {
  if (runs.has(runId)) return runs.get(runId);
  const bubble = element("div", "bubble run");
  bubble.dataset.run = runId;
  const meta = element("div", "meta");
  const link = element("a", "run-link", runId);
  link.href = uiLink(runId);
  link.target = "_blank";
  link.rel = "noopener";
  const phase = element("span", "phase", "");
  meta.append(link, " ", phase);
  const tools = element("div", "tools");
  const text = element("div", "answer", "");
  bubble.append(meta, tools, text);
  $("log").append(bubble);
  const parts = { bubble, phase, tools, text, approvals: new Map() };
  runs.set(runId, parts);
  return parts;
}

function show(type, event) {
  if (type === "answer") {
    setStatus(`answered: ${event.status}`);
    return;
  }
  if (type === "error") {
    setStatus(event.error ? event.error.message : "error", true);
    return;
  }
  const run = runBubble(event.run);
  if (type === "text.delta") run.text.textContent += event.delta;
  else if (type === "text.done" && run.text.textContent !== event.text) run.text.textContent = event.text;
  else if (type === "phase") run.phase.textContent = event.phase;
  else if (type === "tool.started") run.tools.append(element("div", "tool", `→ ${event.name}(${event.arguments})`));
  else if (type === "tool.finished") {
    const failed = event.error ? ` failed (${event.error})` : "";
    run.tools.append(element("div", "tool", `← ${event.name}${failed}: ${event.output.slice(0, 300)}`));
  } else if (type === "code_interpreter.ran") {
    run.tools.append(element("div", "tool", `ran code:\n${event.code}\n${event.logs}`.slice(0, 2000)));
  } else if (type === "approval.requested") approvalBox(run, event);
  else if (type === "approval.decided") {
    const box = run.approvals.get(event.call_id);
    const how = event.timed_out ? "denied: nobody decided in time" : event.approved ? "approved" : "denied";
    if (box) box.replaceChildren(element("span", "decided", `${how}${event.reason ? ` (${event.reason})` : ""}`));
  } else if (type === "run.ended") {
    run.phase.textContent = event.status;
    if (event.error) run.tools.append(element("div", "error", event.error));
  }
  window.scrollTo(0, document.body.scrollHeight);
}

function approvalBox(run, event) {
  const box = element("div", "approval");
  box.dataset.call = event.call_id;
  box.append(element("div", "tool", `${event.name}(${event.arguments}) waits for your approval `));
  for (const [label, approved] of [["Approve", true], ["Deny", false]]) {
    const button = element("button", approved ? "approve" : "deny", label);
    button.type = "button";
    button.onclick = () => decide(run.bubble.dataset.run, event.call_id, approved, box);
    box.append(button);
  }
  run.approvals.set(event.call_id, box);
  run.tools.append(box);
}

async function decide(runId, callId, approved, box) {
  for (const button of box.querySelectorAll("button")) button.disabled = true;
  const response = await fetch(
    `/v1/runs/${encodeURIComponent(runId).replace(/%2F/g, "/")}/approvals/${encodeURIComponent(callId)}`,
    { method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify({ approved }) },
  );
  if (!response.ok) {
    setStatus(errorText(await response.json().catch(() => null), response.status), true);
    for (const button of box.querySelectorAll("button")) button.disabled = false;
  }
}

async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield [type, JSON.parse(data.join("\n"))];
    }
  }
}

async function send(text) {
  let config;
  try {
    config = JSON.parse($("config").value);
  } catch (error) {
    setStatus(`config: not valid JSON: ${error.message}`, true);
    return;
  }
  $("log").append(element("div", "bubble user", text));
  setStatus("sending…");
  $("send").disabled = true;
  try {
    const response = await fetch(`/v1/conversations/${key()}/messages`, {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ message: { content: text }, config }),
    });
    if (!response.ok) {
      setStatus(errorText(await response.json().catch(() => null), response.status), true);
      return;
    }
    setStatus("answering…");
    for await (const [type, event] of serverSentEvents(response)) show(type, event);
  } catch (error) {
    setStatus(`connection lost: ${error.message}`, true);
  } finally {
    $("send").disabled = false;
  }
}

async function openConversation() {
  sessionStorage.setItem(TOKEN, $("token").value.trim());
  const response = await fetch(`/v1/conversations/${key()}`, { headers: headers() });
  const body = await response.json().catch(() => null);
  if (response.status === 404) setStatus(`new conversation ${$("key").value}: the first message starts it with the config below`);
  else if (!response.ok) setStatus(errorText(body, response.status), true);
  else {
    const who = body.assistant ? body.assistant.name : body.assistant_id || (body.prompt && body.prompt.id);
    setStatus(`conversation ${body.key}: ${body.runs_done} answered, answered by ${who}${body.closing ? " (closing)" : ""}`);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("token").value = sessionStorage.getItem(TOKEN) || "";
  $("token").addEventListener("change", () => sessionStorage.setItem(TOKEN, $("token").value.trim()));
  $("open").addEventListener("click", openConversation);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("message").value.trim();
    if (!text) return;
    $("message").value = "";
    sessionStorage.setItem(TOKEN, $("token").value.trim());
    send(text);
  });
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  try {
    site = await (await fetch("/static/config.json")).json();
  } catch (error) {
    // the default link target will do
  }
});
