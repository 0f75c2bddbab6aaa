// The kindling page: reads /metadata, shows the matching input (image, text or a table form),
// posts to /predict and draws the top-k classes as bars. Plain JS, no build step, no network beyond this server.
"use strict";

const $ = (id) => document.getElementById(id);
let meta = null;

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const token = sessionStorage.getItem("kindling-token");
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function loadMetadata() {
  const response = await fetch("/metadata", { headers: headers() });
  if (response.status === 401) {
    $("token-box").hidden = false;
    $("model-info").textContent = "This server needs a token.";
    return;
  }
  if (response.status === 503) {
    $("model-info").textContent = "The model is loading…";
    setTimeout(loadMetadata, 1000);
    return;
  }
  meta = await response.json();
  if (!response.ok) { showError(meta.error || "cannot read /metadata"); return; }
  const kind = meta.task === "multilabel" ? "labels (any number each)" : "classes";
  const classes = meta.class_names.length ? `${meta.class_names.length} ${kind}` : meta.task;
  $("model-info").textContent = `${meta.model}: ${meta.input_kind} input ${meta.input_shape.join("×")}, ${classes}`;
  $("token-box").hidden = true;
  if (meta.input_kind === "image") $("image-input").hidden = false;
  else if (meta.input_kind === "text") $("text-input").hidden = false;
  else buildTableForm(meta.columns);
}

function buildTableForm(columns) {
  const form = $("table-form");
  form.replaceChildren();
  for (const col of columns) {
    const label = document.createElement("label");
    label.textContent = col.name;
    let input;
    if (col.type === "category") {
      input = document.createElement("select");
      for (const choice of col.choices) input.add(new Option(String(choice), String(choice)));
    } else if (col.type === "date") {
      input = document.createElement("input");
      input.type = "date";
    } else {
      input = document.createElement("input");
      input.type = "number";
      input.step = "any";
      input.value = "0";
    }
    input.name = col.name;
    input.dataset.kind = col.type;
    label.htmlFor = input.id = "col-" + col.name;
    form.append(label, input);
  }
  $("table-input").hidden = false;
}

function topK() {
  const k = parseInt($("top-k").value, 10);
  return Number.isFinite(k) && k > 0 ? k : 3;
}

async function predict(body, contentType) {
  showError("");
  const init = { method: "POST", body, headers: headers(contentType ? { "Content-Type": contentType } : {}) };
  const response = await fetch(`/predict?top_k=${topK()}`, init);
  let answer;
  try { answer = await response.json(); } catch (e) { answer = { error: `HTTP ${response.status}` }; }
  if (!response.ok || !answer.success) {
    if (response.status === 401) $("token-box").hidden = false;
    showError(answer.error || `HTTP ${response.status}`);
    $("result").hidden = true;
    return;
  }
  render(answer.results ? answer.results[0] : answer, answer.latency_ms);
}

function render(result, latency) {
  const bars = $("bars");
  bars.replaceChildren();
  if (result.value !== undefined) {
    $("top-label").textContent = Number(result.value).toFixed(4);
  } else {
    // a multi-label model answers every label over its threshold (`labels`), maybe none
    $("top-label").textContent = result.labels ? result.labels.join(", ") || "(no label over its threshold)" : result.label_name;
    for (const p of result.labels ? result.top_labels : result.predictions) {
      const li = document.createElement("li");
      li.className = "bar";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = p.label_name;
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.display = "block";
      fill.style.width = (100 * p.probability).toFixed(1) + "%";
      track.append(fill);
      const prob = document.createElement("span");
      prob.className = "prob";
      prob.textContent = (100 * p.probability).toFixed(1) + "%";
      li.append(name, track, prob);
      bars.append(li);
    }
  }
  $("latency").textContent = `answered in ${Number(latency).toFixed(1)} ms`;
  $("result").hidden = false;
}

function sendImage(file) {
  if (!file) return;
  const preview = $("preview");
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  const form = new FormData();
  form.append("image", file, file.name);
  predict(form, null);
}

$("file").addEventListener("change", (e) => sendImage(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  sendImage(e.dataTransfer.files[0]);
});
$("text-go").addEventListener("click", () => predict(JSON.stringify({ texts: [$("text").value] }), "application/json"));
$("table-go").addEventListener("click", () => {
  const row = {};
  for (const input of $("table-form").elements) {
    if (input.dataset.kind === "number") row[input.name] = input.value === "" ? null : parseFloat(input.value);
    else row[input.name] = input.value;
  }
  predict(JSON.stringify({ rows: [row] }), "application/json");
});
$("token-save").addEventListener("click", () => {
  sessionStorage.setItem("kindling-token", $("token").value);
  loadMetadata();
});
loadMetadata();
