// Home: platform health at a glance, from GET /health/ (200 ready, 503 not); the staff
// session this page runs in gets the details (checks, workers, models), which the public
// answer leaves out.
import { clearError, el, messageOf, showError } from "./api.js";

const status = document.getElementById("health-status");
const box = document.getElementById("health-error");

function badge(ok, yes, no) {
  return el("span", ok ? yes : no, { class: `badge ${ok ? "ok" : "bad"}` });
}

function render(health) {
  const devices = new Set();
  for (const [name, product] of Object.entries(health.products || {})) {
    const workers = Object.values(product.workers || {});
    const loaded = workers.filter((w) => w.loaded).length;
    workers.forEach((w) => w.device && devices.add(w.device));
    for (const cell of document.querySelectorAll(`.models[data-product="${name}"]`)) {
      cell.replaceChildren(
        badge(product.loaded, "loaded", "not loaded"),
        ` on ${loaded} of ${workers.length} worker${workers.length === 1 ? "" : "s"}`,
      );
    }
  }
  const checks = health.checks || {};
  document.getElementById("health-overall").replaceChildren(
    badge(health.status === "ready", "ready", "not ready"),
    health.failing && health.failing.length ? ` failing: ${health.failing.join(", ")}` : "",
  );
  const db = checks.database || {};
  document.getElementById("health-database").replaceChildren(
    badge(db.ok, db.vendor || "ok", "down"),
    db.latency_ms !== undefined ? ` ${db.latency_ms} ms` : "",
  );
  const workers = checks.workers || {};
  document.getElementById("health-workers").replaceChildren(
    badge(workers.ok, workers.mode || "ok", "none"),
    ` ${(workers.answering || []).join(", ") || workers.error || ""}`,
  );
  document.getElementById("health-device").textContent = [...devices].join(", ") || "unknown";
  document.getElementById("health").hidden = false;
}

async function load() {
  clearError(box);
  try {
    const response = await fetch("/health/", { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!body || !body.checks) throw new Error(messageOf(body, response.status));
    render(body);
  } catch (error) {
    showError(box, error);
  } finally {
    status.hidden = true;
  }
}

load();
