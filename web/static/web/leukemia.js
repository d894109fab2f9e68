// The leukemia page: POST /leukemia/predict/upload with the page's API key.
import {
  apiKeyHeaders, base64ToFile, callJson, dataUrl, dropZone, el, fileToBase64, staffCall, whileBusy,
} from "./api.js";

const $ = (id) => document.getElementById(id);
const ui = { status: $("status"), box: $("error"), button: [$("generate")] };

async function classify(file, caption) {
  $("image").src = dataUrl(await fileToBase64(file), file.type || "image/png");
  $("image-caption").textContent = caption || file.name;
  $("preview").hidden = false;
  $("result").hidden = true;
  $("empty").hidden = false;
  const form = new FormData();
  form.append("file", file, file.name);
  const body = await callJson("/leukemia/predict/upload", {
    method: "POST", headers: await apiKeyHeaders(), form,
  });
  show(body.data);
}

function show(data) {
  const { prediction, probabilities, metadata } = data;
  $("predicted").textContent = prediction.predicted_class;
  $("level").textContent = `${prediction.confidence_level} confidence`;
  $("level").className = `badge ${prediction.confidence_level}`;
  $("description").textContent = prediction.description;
  $("confidence").textContent = `${(prediction.confidence * 100).toFixed(1)} %`;
  const bars = $("bars");
  bars.replaceChildren();
  for (const [name, p] of Object.entries(probabilities)) {
    const top = name === prediction.predicted_class;
    const bar = el("div", null, { class: `bar${top ? " top" : ""}`, role: "presentation" });
    const fill = el("span");
    fill.style.width = `${(p * 100).toFixed(1)}%`;
    bar.append(fill);
    const label = el("span", name, { role: "listitem", "data-class": name });
    bars.append(label, bar, el("span", p.toFixed(3), { class: "num", "data-probability": name }));
  }
  $("meta").textContent =
    `${metadata.model_version} · ${metadata.image_size} · ${metadata.device}`;
  $("empty").hidden = true;
  $("result").hidden = false;
}

dropZone($("drop"), $("file"), (file) =>
  whileBusy({ ...ui, label: "Classifying…" }, () => classify(file)));

$("generate").addEventListener("click", () =>
  whileBusy({ ...ui, label: "Generating and classifying…" }, async () => {
    const params = new URLSearchParams({ class: $("sample-class").value, seed: $("sample-seed").value });
    const sample = await staffCall(`/try/samples/leukemia?${params}`);
    const file = base64ToFile(sample.image, sample.media_type, sample.filename);
    await classify(file, `Generated ${sample.truth.class} cell, seed ${sample.truth.seed}`);
  }));
