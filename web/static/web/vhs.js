// The VHS page: radiographs measured through the public VHS API, exactly as a customer's code
// would call it (the x-api-key comes from api.js's short-lived page credentials):
//
//   one image      POST /vhs/v3/predict {image, uuid}
//   several        POST /vhs/v3/predict/stream {images, uuid}: Server-Sent Events read with
//                  fetch + ReadableStream (EventSource cannot POST), a row per image as it
//                  arrives, then the summary; the best image is shown
//   landmarks      GET /vhs/v3/measurements?uuid= (the stored measurement's points and size)
//   correction     drag a point: VHS/VLAS follow live (vhs_geometry.js, the server's formula);
//                  POST /vhs/v3/corrections stores it beside the AI's values
//   report         POST /vhs/v3/report -> the PDF, downloaded
import {
  apiKeyHeaders,
  base64ToFile,
  callJson,
  dropZone,
  el,
  fileToBase64,
  messageOf,
  showError,
  staffCall,
  whileBusy,
} from "./api.js";
import {
  LANDMARKS,
  VHS_NORMAL,
  VLAS_NORMAL_MAX,
  VERTEBRAE_SPANNED,
  fromPrediction,
  measure,
  toPrediction,
  toPixels,
} from "./vhs_geometry.js";

const MAX_IMAGES = 10;
const MEASURED = new Set([1, 2, 3, 4]);
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const ui = {
  drop: $("drop"), file: $("file"), generate: $("generate"), uuid: $("uuid"), thumbs: $("thumbs"),
  measure: $("measure"), status: $("status"), error: $("error"), empty: $("empty"),
  stream: $("stream"), streamRows: $("stream-rows"), summary: $("summary"), result: $("result"),
  image: $("radiograph"), overlay: $("overlay"), save: $("save"), reset: $("reset"),
  report: $("report"), saved: $("saved"), historyBox: $("history-box"), history: $("history"),
  meta: $("meta"), confidence: $("confidence"), description: $("description"),
};

// The chosen images: [{file, base64, url}]; the shown measurement.
let chosen = [];
let shown = null; // {index, measurementId, ai: {vhs, vlas, points}, points, width, height}

ui.uuid.value = `try-${Math.random().toString(16).slice(2, 10)}`;

// --- choosing images ----------------------------------------------------------------------

async function choose(files) {
  if (files.length > MAX_IMAGES) {
    showError(ui.error, `At most ${MAX_IMAGES} radiographs at a time (${files.length} chosen)`);
    return;
  }
  chosen = await Promise.all(
    files.map(async (file) => ({ file, base64: await fileToBase64(file), url: URL.createObjectURL(file) })),
  );
  ui.thumbs.replaceChildren(
    ...chosen.map((item, i) => {
      const li = el("li");
      li.append(el("img", null, { src: item.url, alt: `Radiograph ${i + 1}: ${item.file.name}` }));
      return li;
    }),
  );
  ui.measure.disabled = chosen.length === 0;
  ui.measure.textContent = chosen.length > 1 ? `Measure ${chosen.length} images (stream)` : "Measure";
}

dropZone(ui.drop, ui.file, (files) => choose(files), { multiple: true });

ui.generate.addEventListener("click", () =>
  whileBusy({ button: ui.generate, status: ui.status, box: ui.error, label: "Drawing phantoms…" }, async () => {
    const query = new URLSearchParams({
      vhs: $("sample-vhs").value, vlas: $("sample-vlas").value,
      count: $("sample-count").value, seed: $("sample-seed").value,
    });
    const body = await staffCall(`/try/vhs/sample?${query}`);
    await choose(body.images.map((s) => base64ToFile(s.image, s.media_type, s.filename)));
    ui.meta.textContent = `Phantom truth: ${body.images.map((s) => `VHS ${s.truth.vhs}, VLAS ${s.truth.vlas}`).join("; ")}`;
  }),
);

// --- measuring ----------------------------------------------------------------------------

ui.measure.addEventListener("click", () =>
  whileBusy({ button: [ui.measure, ui.generate], status: ui.status, box: ui.error, label: "Measuring…" }, async () => {
    resetResult();
    const uuid = ui.uuid.value.trim();
    if (chosen.length === 1) await measureOne(uuid);
    else await measureStream(uuid);
  }),
);

function resetResult() {
  shown = null;
  ui.empty.hidden = true;
  ui.result.hidden = true;
  ui.stream.hidden = true;
  ui.streamRows.replaceChildren();
  ui.summary.replaceChildren();
  ui.summary.hidden = true;
  ui.saved.textContent = "";
}

async function measureOne(uuid) {
  const body = { image: chosen[0].base64 };
  if (uuid) body.uuid = uuid;
  const answer = await callJson("/vhs/v3/predict", { method: "POST", headers: await apiKeyHeaders(), json: body });
  await show(0, answer, uuid);
}

// Server-Sent Events from a POST: yields {event, data} as each block arrives.
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

async function measureStream(uuid) {
  const body = { images: chosen.map((item) => item.base64) };
  if (uuid) body.uuid = uuid;
  const response = await fetch("/vhs/v3/predict/stream", {
    method: "POST",
    headers: { ...(await apiKeyHeaders()), "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const text = await response.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    throw new Error(messageOf(parsed, response.status));
  }
  ui.stream.hidden = false;
  const rows = {};
  let summary = null;
  for await (const { event, data } of events(response)) {
    if (event === "processing_started") {
      ui.status.textContent = `Measuring ${data.n_images} images (${data.model_version})…`;
    } else if (event === "photo" || event === "error") {
      const row = streamRow(data, event);
      rows[data.index] = row;
      ui.streamRows.append(row);
    } else if (event === "summary") {
      summary = data;
    }
  }
  if (!summary) throw new Error("The stream ended without a summary");
  showSummary(summary, rows);
  const best = summary.best_photo_index;
  if (best === null || best === undefined) {
    ui.empty.hidden = false;
    ui.empty.textContent = "No image gave a measurement.";
    return;
  }
  await show(best, { vhs: summary.best_vhs, vlas: summary.best_vlas, model_confidence: summary.vhs_confidence,
    measurement_id: summary.measurement_id, result_code: null, historic_vhs: summary.historic_vhs }, uuid);
}

function streamRow(data, event) {
  const tr = el("tr", null, { "data-index": String(data.index) });
  if (event === "error") {
    tr.append(el("td", data.index + 1), el("td", data.error, { colspan: "4" }));
    return tr;
  }
  const measured = data.landmarks_detected;
  tr.append(
    el("td", data.index + 1),
    el("td", measured ? data.vhs.toFixed(1) : "–", { class: "num" }),
    el("td", measured && data.vlas !== null ? data.vlas.toFixed(1) : "–", { class: "num" }),
    el("td", data.rejected ? "not a radiograph" : data.model_confidence),
    el("td", data.result_code, { class: "num" }),
  );
  return tr;
}

function showSummary(summary, rows) {
  const items = [
    ["Best image", summary.best_photo_index === null ? "none" : `#${summary.best_photo_index + 1}`],
    ["Median VHS", summary.median_vhs ?? "–"],
    ["VHS spread (sd)", summary.vhs_std ?? "–"],
    ["Median VLAS", summary.median_vlas ?? "–"],
    ["Images measured", `${summary.n_photos_with_landmarks} of ${summary.n_photos_processed}`],
    ["Billing", summary.billing ? `${summary.billing.billable ? "billed" : "not billed"} (${summary.billing.reason})` : "–"],
  ];
  ui.summary.replaceChildren(...items.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
  ui.summary.hidden = false;
  if (summary.best_photo_index !== null && rows[summary.best_photo_index]) rows[summary.best_photo_index].classList.add("best");
}

// --- the shown measurement ------------------------------------------------------------------

async function stored(uuid) {
  if (!uuid) return [];
  const query = new URLSearchParams({ uuid });
  const body = await callJson(`/vhs/v3/measurements?${query}`, { headers: await apiKeyHeaders() });
  return body.measurements;
}

async function show(index, answer, uuid) {
  ui.result.hidden = false;
  const item = chosen[index];
  ui.image.src = item.url;
  await ui.image.decode().catch(() => {});
  const history = await stored(uuid);
  const record = history.find((m) => m.measurement_id === answer.measurement_id) || null;
  const prediction = answer.prediction || (record && record.prediction);
  const code = answer.result_code ?? (record && record.result_code);
  ui.confidence.textContent = answer.model_confidence || (answer.rejected ? "rejected" : "–");
  ui.confidence.className = `badge ${answer.model_confidence || "bad"}`;
  ui.description.textContent = answer.result_description || (record ? `result code ${record.result_code}` : "");
  drawHistory(history);
  if (!prediction || (code !== null && code !== undefined && !MEASURED.has(code))) {
    ui.overlay.replaceChildren();
    showValues(answer.vhs, answer.vlas, null);
    [ui.save, ui.reset, ui.report].forEach((b) => (b.disabled = true));
    return;
  }
  const points = fromPrediction(prediction);
  shown = {
    index,
    measurementId: answer.measurement_id ?? null,
    ai: { vhs: answer.vhs, vlas: answer.vlas, points },
    points: structuredClone(points),
    width: (record && record.image_width) || ui.image.naturalWidth,
    height: (record && record.image_height) || ui.image.naturalHeight,
  };
  if (record && record.correction) {
    shown.points = fromPrediction(record.correction.prediction);
  }
  drawOverlay();
  update();
  ui.reset.disabled = false;
  ui.report.disabled = !shown.measurementId;
  ui.meta.textContent = shown.measurementId
    ? `Measurement ${shown.measurementId} of patient ${uuid}, image ${shown.width}×${shown.height}`
    : "No uuid: this measurement is not stored, so it cannot be saved or printed.";
}

// The live values, the AI's beside them once a point moved.
function update() {
  let live = null;
  try {
    live = measure(shown.points, shown.width, shown.height);
  } catch (error) {
    ui.saved.textContent = error.message;
  }
  const moved = LANDMARKS.some((n) => shown.points[n][0] !== shown.ai.points[n][0] || shown.points[n][1] !== shown.ai.points[n][1]);
  showValues(shown.ai.vhs, shown.ai.vlas, moved && live ? live : null);
  ui.save.disabled = !(moved && live && shown.measurementId);
  redraw();
}

function showValues(aiVhs, aiVlas, corrected) {
  const pairs = [
    ["vhs", aiVhs, corrected && corrected.vhs, VHS_NORMAL, [6, 14]],
    ["vlas", aiVlas, corrected && corrected.vlas, [0.5, VLAS_NORMAL_MAX], [0.5, 4]],
  ];
  for (const [name, ai, fixed, normal, scale] of pairs) {
    const value = fixed ?? ai;
    const big = $(`${name}-value`);
    big.textContent = value === null || value === undefined ? "not measured" : value.toFixed(1);
    big.className = `big ${value !== null && value !== undefined && value >= normal[0] && value <= normal[1] ? "normal" : "high"}`;
    $(`${name}-ai`).textContent = fixed !== null && fixed !== undefined && ai !== null && ai !== undefined
      ? `corrected · AI ${ai.toFixed(1)} (${fixed - ai >= 0 ? "+" : ""}${(fixed - ai).toFixed(1)})`
      : "AI";
    meter($(`${name}-meter`), scale, normal, ai, fixed);
  }
}

function meter(box, scale, normal, ai, fixed) {
  const at = (v) => `${(100 * (Math.min(Math.max(v, scale[0]), scale[1]) - scale[0])) / (scale[1] - scale[0])}%`;
  const band = el("span", null, { class: "band" });
  band.style.left = at(normal[0]);
  band.style.width = `calc(${at(normal[1])} - ${at(normal[0])})`;
  const marks = [band];
  for (const [value, cls] of [[ai, "mark"], [fixed, "mark corrected"]]) {
    if (value === null || value === undefined) continue;
    const mark = el("span", null, { class: cls });
    mark.style.left = at(value);
    marks.push(mark);
  }
  box.replaceChildren(...marks);
}

// --- the overlay: axes, vertebral scale, draggable points --------------------------------------

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  return node;
}

let parts = null;

function drawOverlay() {
  const { width, height } = shown;
  const side = Math.max(width, height);
  ui.overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
  ui.overlay.setAttribute("preserveAspectRatio", "none");
  const stroke = side / 300;
  parts = {
    long: svg("line", { class: "axis long", "stroke-width": stroke }),
    short: svg("line", { class: "axis short", "stroke-width": stroke }),
    vlas: svg("line", { class: "axis vlas", "stroke-width": stroke }),
    spine: svg("polyline", { class: "axis spine", "stroke-width": stroke }),
    points: {},
    labels: {},
  };
  const nodes = [parts.long, parts.short, parts.vlas, parts.spine];
  for (const name of LANDMARKS) {
    const point = svg("circle", {
      class: "point", r: side / 110, "stroke-width": stroke / 1.5, tabindex: 0, role: "button",
      "aria-roledescription": "draggable landmark", "aria-label": `${name} landmark`, "data-landmark": name,
    });
    const label = svg("text", { "font-size": side / 45, "stroke-width": stroke / 1.5 });
    label.textContent = name;
    dragging(point, name);
    parts.points[name] = point;
    parts.labels[name] = label;
    nodes.push(point, label);
  }
  ui.overlay.replaceChildren(...nodes);
}

function redraw() {
  if (!parts) return;
  const px = toPixels(shown.points, shown.width, shown.height);
  const line = (node, a, b) => {
    node.setAttribute("x1", px[a][0]); node.setAttribute("y1", px[a][1]);
    node.setAttribute("x2", px[b][0]); node.setAttribute("y2", px[b][1]);
  };
  line(parts.long, "heart_top", "heart_bottom");
  line(parts.short, "heart_right", "heart_left");
  line(parts.vlas, "heart_top", "VLAS");
  // The A-B reference with a tick at every vertebra, as the API's rendered image draws it.
  const [a, b] = [px["Vertebra A"], px["Vertebra B"]];
  const dx = (b[0] - a[0]) / VERTEBRAE_SPANNED;
  const dy = (b[1] - a[1]) / VERTEBRAE_SPANNED;
  const norm = Math.max(1e-6, Math.hypot(dx, dy));
  const tick = Math.max(shown.width, shown.height) / 60;
  const [nx, ny] = [(-dy / norm) * tick, (dx / norm) * tick];
  const spine = [];
  for (let i = 0; i <= VERTEBRAE_SPANNED; i++) {
    const [cx, cy] = [a[0] + dx * i, a[1] + dy * i];
    spine.push(`${cx},${cy}`, `${cx + nx},${cy + ny}`, `${cx - nx},${cy - ny}`, `${cx},${cy}`);
  }
  parts.spine.setAttribute("points", spine.join(" "));
  for (const name of LANDMARKS) {
    const [x, y] = px[name];
    const point = parts.points[name];
    point.setAttribute("cx", x);
    point.setAttribute("cy", y);
    const [ax, ay] = shown.ai.points[name];
    point.classList.toggle("moved", ax !== shown.points[name][0] || ay !== shown.points[name][1]);
    const [nx2, ny2] = shown.points[name];
    point.setAttribute("aria-label", `${name} landmark at x ${nx2.toFixed(3)}, y ${ny2.toFixed(3)}: arrow keys move it`);
    parts.labels[name].setAttribute("x", x + Math.max(shown.width, shown.height) / 80);
    parts.labels[name].setAttribute("y", y - Math.max(shown.width, shown.height) / 80);
  }
}

function normalised(event) {
  const box = ui.overlay.getBoundingClientRect();
  const clamp = (v) => Math.min(1, Math.max(0, v));
  return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
}

function dragging(point, name) {
  point.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    point.setPointerCapture(event.pointerId);
    point.classList.add("dragging");
    point.focus();
  });
  point.addEventListener("pointermove", (event) => {
    if (!point.hasPointerCapture(event.pointerId)) return;
    shown.points[name] = normalised(event);
    update();
  });
  const end = (event) => {
    if (point.hasPointerCapture(event.pointerId)) point.releasePointerCapture(event.pointerId);
    point.classList.remove("dragging");
  };
  point.addEventListener("pointerup", end);
  point.addEventListener("pointercancel", end);
  point.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? 0.01 : 0.002;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (!moves[event.key]) return;
    event.preventDefault();
    const [x, y] = shown.points[name];
    shown.points[name] = [Math.min(1, Math.max(0, x + moves[event.key][0])), Math.min(1, Math.max(0, y + moves[event.key][1]))];
    update();
  });
}

ui.reset.addEventListener("click", () => {
  if (!shown) return;
  shown.points = structuredClone(shown.ai.points);
  ui.saved.textContent = "";
  update();
});

// --- saving, the report, the history --------------------------------------------------------

ui.save.addEventListener("click", () =>
  whileBusy({ button: ui.save, status: ui.status, box: ui.error, label: "Saving the correction…" }, async () => {
    const body = await callJson("/vhs/v3/corrections", {
      method: "POST",
      headers: await apiKeyHeaders(),
      json: { measurement_id: shown.measurementId, landmarks: toPrediction(shown.points), corrected_by: document.querySelector(".who span")?.textContent || "" },
    });
    const c = body.correction;
    ui.saved.textContent = `Correction saved: VHS ${c.vhs.toFixed(1)} (AI ${body.vhs.toFixed(1)}), VLAS ${c.vlas.toFixed(1)}, at ${new Date(c.corrected_at).toLocaleString()}.`;
    ui.saved.dataset.correctionId = c.correction_id;
    drawHistory(await stored(ui.uuid.value.trim()));
  }),
);

ui.report.addEventListener("click", () =>
  whileBusy({ button: ui.report, status: ui.status, box: ui.error, label: "Writing the report…" }, async () => {
    const response = await fetch("/vhs/v3/report", {
      method: "POST",
      headers: { ...(await apiKeyHeaders()), "Content-Type": "application/json" },
      body: JSON.stringify({ measurement_id: shown.measurementId, image: chosen[shown.index].base64 }),
    });
    if (!response.ok) {
      let parsed = null;
      try { parsed = await response.json(); } catch { /* not JSON */ }
      throw new Error(messageOf(parsed, response.status));
    }
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", null, { href: url, download: `vhs-report-${shown.measurementId}.pdf` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }),
);

// A small inline SVG chart: the AI's VHS per measurement, corrections dashed, normal shaded.
function drawHistory(measurements) {
  ui.historyBox.hidden = measurements.length === 0;
  if (!measurements.length) return;
  const [w, h, left, right, top, bottom] = [520, 170, 34, 12, 12, 28];
  const values = measurements.flatMap((m) => [m.vhs, m.correction ? m.correction.vhs : m.vhs]);
  const low = Math.min(8, ...values) - 0.5;
  const high = Math.max(12, ...values) + 0.5;
  const x = (i) => (measurements.length === 1 ? (left + w - right) / 2 : left + ((w - left - right) * i) / (measurements.length - 1));
  const y = (v) => top + ((h - top - bottom) * (high - v)) / (high - low);
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": `VHS history of ${measurements.length} measurements` });
  chart.append(svg("rect", { x: left, y: y(VHS_NORMAL[1]), width: w - left - right, height: y(VHS_NORMAL[0]) - y(VHS_NORMAL[1]), fill: "#e3f1e7" }));
  for (let t = Math.ceil(low); t <= high; t += 1) {
    chart.append(svg("line", { x1: left, x2: w - right, y1: y(t), y2: y(t), stroke: "#d5dbe3", "stroke-width": 0.5 }));
    const label = svg("text", { x: left - 6, y: y(t) + 3, "font-size": 9, "text-anchor": "end", fill: "#5a6576" });
    label.textContent = t;
    chart.append(label);
  }
  const path = (vals, attrs) => chart.append(svg("polyline", { points: vals.map((v, i) => `${x(i)},${y(v)}`).join(" "), fill: "none", ...attrs }));
  path(measurements.map((m) => m.vhs), { stroke: "#1f3a5f", "stroke-width": 1.5 });
  if (measurements.some((m) => m.correction)) {
    path(measurements.map((m) => (m.correction ? m.correction.vhs : m.vhs)), { stroke: "#c2410c", "stroke-width": 1.2, "stroke-dasharray": "3 3" });
  }
  measurements.forEach((m, i) => {
    const dot = svg("circle", { cx: x(i), cy: y(m.vhs), r: 3.2, fill: "#1f3a5f" });
    dot.append(svg("title"));
    dot.firstChild.textContent = `${m.measured_at.slice(0, 10)}: AI VHS ${m.vhs}`;
    chart.append(dot);
    if (m.correction) chart.append(svg("circle", { cx: x(i), cy: y(m.correction.vhs), r: 3.2, fill: "#c2410c", "data-corrected": m.correction.vhs }));
    const label = svg("text", { x: x(i), y: h - 10, "font-size": 9, "text-anchor": "middle", fill: "#5a6576" });
    label.textContent = m.measured_at.slice(5, 10);
    chart.append(label);
  });
  ui.history.replaceChildren(chart);
}
