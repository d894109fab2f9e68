// The chest X-ray page: POST /cxr/single_inference/upload with the page's JWT as Bearer.
import {
  base64ToBlob, base64ToFile, callJson, dataUrl, dropZone, el, jwtHeaders, staffCall, whileBusy,
} from "./api.js";

const $ = (id) => document.getElementById(id);
const ui = { status: $("status"), box: $("error"), button: [$("generate")] };
let reportUrl = null;

const RESULT_CLASS = { Normal: "normal", Abnormal: "abnormal", "TB Presumptive": "abnormal" };

async function analyse(file) {
  $("result").hidden = true;
  $("empty").hidden = false;
  $("metadata-panel").hidden = true;
  const form = new FormData();
  form.append("file", file, file.name);
  const body = await callJson("/cxr/single_inference/upload", {
    method: "POST", headers: await jwtHeaders(), form,
  });
  show(body.Data);
}

function show(data) {
  const overall = $("overall");
  overall.replaceChildren(
    el("span", data.result, { class: `badge ${RESULT_CLASS[data.result] || ""}`, id: "overall-result" }),
  );
  const meta = data.metadata;
  const rows = [
    ["Patient ID", meta.patient_id], ["Name", meta.patient_name], ["Age", meta.age],
    ["Sex", meta.sex], ["SOP instance UID", meta.sop_instance_uid], ["Model", meta.model_version],
  ];
  $("metadata").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", k), el("dd", v || "—")]));
  $("metadata-panel").hidden = false;

  $("source").src = dataUrl(data.source_image, "image/png");
  $("heatmap-figure").hidden = !data.heatmap;
  if (data.heatmap) $("heatmap").src = dataUrl(data.heatmap, "image/png");

  const tbody = $("findings-table").querySelector("tbody");
  tbody.replaceChildren();
  if (!data.findings.length) {
    const row = el("tr");
    row.append(el("td", "No finding above threshold", { colspan: "3" }));
    tbody.append(row);
  }
  for (const finding of data.findings) {
    const row = el("tr", null, { "data-finding": finding.name });
    row.append(
      el("td", finding.name),
      el("td", finding.presence ? "yes" : "no"),
      el("td", `${(finding.confidence * 100).toFixed(1)} %`, { class: "num" }),
    );
    if (finding.presence) row.style.fontWeight = "600";
    tbody.append(row);
  }

  if (reportUrl) URL.revokeObjectURL(reportUrl);
  reportUrl = URL.createObjectURL(base64ToBlob(data.report, "application/pdf"));
  $("report").href = reportUrl;
  $("report-download").href = reportUrl;
  $("report-download").download = `${meta.patient_id || "study"}_report.pdf`;
  $("empty").hidden = true;
  $("result").hidden = false;
}

dropZone($("drop"), $("file"), (file) =>
  whileBusy({ ...ui, label: "Analysing the study…" }, () => analyse(file)));

$("generate").addEventListener("click", () =>
  whileBusy({ ...ui, label: "Generating and analysing a study…" }, async () => {
    const findings = [...document.querySelectorAll('input[name="finding"]:checked')].map((c) => c.value);
    const params = new URLSearchParams({ findings: findings.join(","), seed: $("sample-seed").value });
    const sample = await staffCall(`/try/samples/cxr?${params}`);
    await analyse(base64ToFile(sample.dicom, sample.media_type, sample.filename));
  }));
