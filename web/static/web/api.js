// Shared helpers of the staff pages: credentials, JSON calls, errors, files.
//
// The pages call the platform's public APIs exactly as a customer's code would; the only
// thing a page adds is where its credentials come from: POST /try/credentials, with the
// staff session's cookie and CSRF token, hands out a short-lived API key and JWT for the
// internal customer (docs/web.md).  They are kept in this module's memory only: never in
// the page's HTML, localStorage or a URL.

const RENEW_BEFORE_MS = 60_000;
let credentials = null; // {api_key, jwt, expires_at}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// The API's own message, whichever product's envelope it is in.
export function messageOf(body, status) {
  if (body && typeof body === "object") {
    for (const field of ["error", "Message", "message", "detail"]) {
      if (typeof body[field] === "string" && body[field]) return body[field];
    }
  }
  return status ? `Request failed with HTTP ${status}` : "Request failed";
}

async function parse(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return { error: text.slice(0, 300) || `HTTP ${response.status}` };
  }
}

// fetch + JSON: resolves to the body of a 2xx answer, rejects with the API's own message.
export async function callJson(url, { method = "GET", headers = {}, json, form } = {}) {
  const options = { method, headers: { Accept: "application/json", ...headers } };
  if (json !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(json);
  } else if (form !== undefined) {
    options.body = form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new ApiError(`Network error: ${error.message}`, 0, null);
  }
  const body = await parse(response);
  if (!response.ok) throw new ApiError(messageOf(body, response.status), response.status, body);
  return body;
}

// A same-origin call to one of the pages' own endpoints under /try/ (staff session + CSRF).
export function staffCall(url, options = {}) {
  const headers = { "X-CSRFToken": csrfToken(), ...(options.headers || {}) };
  return callJson(url, { ...options, headers });
}

// The page's API key and JWT, fetched once and renewed shortly before they expire.
export async function getCredentials() {
  if (credentials && credentials.expires_at - Date.now() > RENEW_BEFORE_MS) return credentials;
  const issued = await staffCall("/try/credentials", { method: "POST" });
  credentials = { ...issued, expires_at: Date.now() + issued.expires_in * 1000 };
  return credentials;
}

export async function apiKeyHeaders() {
  return { "x-api-key": (await getCredentials()).api_key };
}

export async function jwtHeaders() {
  return { Authorization: `Bearer ${(await getCredentials()).jwt}` };
}

// --- the error box and progress -----------------------------------------------------------

export function showError(box, error) {
  const message = error instanceof Error ? error.message : String(error);
  box.textContent = message;
  box.hidden = false;
  box.focus();
}

export function clearError(box) {
  box.textContent = "";
  box.hidden = true;
}

// Runs `work` with `button` disabled and `status` saying what happens; errors go to `box`.
export async function whileBusy({ button, status, box, label = "Working…" }, work) {
  if (box) clearError(box);
  const buttons = Array.isArray(button) ? button : button ? [button] : [];
  buttons.forEach((b) => (b.disabled = true));
  if (status) {
    status.textContent = label;
    status.hidden = false;
  }
  try {
    return await work();
  } catch (error) {
    if (box) showError(box, error);
    else throw error;
    return undefined;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    if (status) status.hidden = true;
  }
}

// --- files ------------------------------------------------------------------------------

// A File or Blob as base64 (without the data: prefix).
export function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

export function base64ToBlob(base64, type) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type });
}

export function base64ToFile(base64, type, name) {
  return new File([base64ToBlob(base64, type)], name, { type });
}

export function dataUrl(base64, type = "image/png") {
  return `data:${type};base64,${base64}`;
}

// Makes `zone` accept a dropped file and `input` (type=file) a chosen one: onFile(file), or
// with `multiple` onFile([files]).
export function dropZone(zone, input, onFile, { multiple = false } = {}) {
  const pick = (files) => {
    if (files && files.length) onFile(multiple ? [...files] : files[0]);
  };
  input.addEventListener("change", () => pick(input.files));
  ["dragenter", "dragover"].forEach((name) =>
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    }),
  );
  ["dragleave", "drop"].forEach((name) =>
    zone.addEventListener(name, () => zone.classList.remove("dragging")),
  );
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    pick(event.dataTransfer.files);
  });
}

// An element with text, for building result tables without innerHTML.
export function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}
