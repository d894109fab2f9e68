// The PoP capture page: POST /vhs/v3/pop-session/start with the page's API key, a ticket
// from POST /try/pop-ticket, then frames over ws/vhs/v3/pop-session/<id>?ticket=.
import {
  ApiError, apiKeyHeaders, callJson, dataUrl, dropZone, el, fileToBase64, staffCall, whileBusy,
} from "./api.js";

const $ = (id) => document.getElementById(id);
const ui = { status: $("status"), box: $("error"), button: [$("generate"), $("camera-run")] };
const NEEDED = 3;
let stopped = false;

// One session over one WebSocket; send(frame) resolves to the server's answer.
class CaptureSession {
  static async start() {
    const started = await callJson("/vhs/v3/pop-session/start", {
      method: "POST", headers: await apiKeyHeaders(), json: {},
    });
    const { ticket } = await staffCall("/try/pop-ticket", {
      method: "POST", json: { session_id: started.session_id },
    });
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/vhs/v3/pop-session/${started.session_id}?ticket=${encodeURIComponent(ticket)}`;
    const session = new CaptureSession(started, new WebSocket(url));
    await session.opened;
    return session;
  }

  constructor(started, socket) {
    this.id = started.session_id;
    this.started = started;
    this.socket = socket;
    this.waiting = null;
    this.closed = false;
    this.opened = new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new ApiError("The session's WebSocket could not be opened", 0));
    });
    socket.onmessage = (event) => {
      const waiting = this.waiting;
      this.waiting = null;
      if (waiting) waiting.resolve(JSON.parse(event.data));
    };
    socket.onclose = (event) => {
      this.closed = true;
      const waiting = this.waiting;
      this.waiting = null;
      if (waiting) waiting.reject(new ApiError(`The session's WebSocket closed (code ${event.code})`, event.code));
    };
  }

  send(image, uuid) {
    if (this.closed) return Promise.reject(new ApiError("The session has ended", 0));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.send(JSON.stringify(uuid ? { image, uuid } : { image }));
    });
  }

  close() {
    if (!this.closed) this.socket.close();
  }
}

function resetView(session) {
  $("session-id").textContent = session.id;
  $("session-state").textContent = "running";
  $("good-frames").textContent = `0/${NEEDED}`;
  $("frames").replaceChildren();
  $("result").hidden = true;
}

function record(answer) {
  const status = answer.session_status;
  let text;
  if (answer.error && !status) text = `refused: ${answer.error}`;
  else if (status === "continue") {
    text = answer.feedback || (answer.frame_result && answer.frame_result.vhs != null
      ? `good frame (VHS ${answer.frame_result.vhs})` : answer.result_description || "");
  } else if (status === "complete") text = "complete";
  else text = `failed: ${answer.error}`;
  const index = answer.frame_index != null ? answer.frame_index + 1 : "?";
  $("frames").append(el("li", `Frame ${index}: ${text}`, { "data-status": status || "error" }));
  $("frames").lastChild.scrollIntoView({ block: "nearest" });
  if (answer.good_frames != null) $("good-frames").textContent = `${answer.good_frames}/${NEEDED}`;
  if (status === "complete") $("good-frames").textContent = `${NEEDED}/${NEEDED}`;
}

function finish(answer) {
  const status = answer.session_status;
  $("session-state").textContent = status;
  if (status !== "complete") return;
  const p = answer.prediction;
  $("vhs").textContent = `VHS ${p.vhs}`;
  $("confidence").textContent = p.model_confidence;
  $("confidence").className = `badge ${p.model_confidence}`;
  $("vlas").textContent = p.vlas != null ? `VLAS ${p.vlas}` : "VLAS not measurable";
  $("description").textContent = p.result_description;
  $("rectified").src = dataUrl(answer.rectified_image, "image/jpeg");
  $("rendered").src = p.rendered_image ? dataUrl(p.rendered_image, "image/jpeg") : "";
  $("result").hidden = false;
}

function showFrame(base64, type) {
  $("last-frame").src = dataUrl(base64, type);
  $("last-frame-figure").hidden = false;
}

// Sends frames from `next()` (a base64 image, or null when there are no more) until the
// session completes or fails; the answer that ended it, or null.
async function run(next) {
  stopped = false;
  const session = await CaptureSession.start();
  resetView(session);
  const uuid = $("uuid").value.trim();
  try {
    for (;;) {
      const frame = stopped ? null : await next();
      if (frame === null) {
        $("session-state").textContent = "stopped (no more frames)";
        return null;
      }
      showFrame(frame.image, frame.type);
      const answer = await session.send(frame.image, uuid);
      record(answer);
      if (!answer.session_status) throw new ApiError(answer.error || "Frame refused", answer.status);
      const status = answer.session_status;
      if (status === "complete" || status === "failed") {
        finish(answer);
        return answer;
      }
    }
  } finally {
    session.close();
  }
}

$("generate").addEventListener("click", () =>
  whileBusy({ ...ui, label: "Capture session running…" }, async () => {
    const total = Number($("pop-frames").value) || 6;
    const tilt = Number($("pop-tilt").value) || 0;
    let sent = 0;
    await run(async () => {
      if (sent >= total) return null;
      // The same film each time, held a little differently.
      const params = new URLSearchParams({
        seed: $("pop-seed").value,
        tilt: String(Math.min(70, tilt + (sent % 3))),
        glare: $("pop-glare").value,
        moire: $("pop-moire").checked ? "1" : "0",
      });
      sent += 1;
      const sample = await staffCall(`/try/samples/pop?${params}`);
      return { image: sample.image, type: sample.media_type };
    });
  }));

function uploaded(files) {
  const queue = [...files];
  return whileBusy({ ...ui, label: "Capture session running…" }, () =>
    run(async () => {
      const file = queue.shift();
      return file ? { image: await fileToBase64(file), type: file.type } : null;
    }));
}
dropZone($("drop"), $("file"), uploaded, { multiple: true });

// The camera, where there is one: frames are grabbed from the live video as JPEGs.
async function setUpCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  if (!devices.some((d) => d.kind === "videoinput")) return;
  $("camera-panel").hidden = false;
  $("camera-note").textContent = "A camera is available; you can also upload or generate photos.";
  $("camera-run").addEventListener("click", () =>
    whileBusy({ ...ui, label: "Capture session running…" }, async () => {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment", width: { ideal: 1280 } },
      });
      const video = $("video");
      video.srcObject = stream;
      await video.play();
      const canvas = document.createElement("canvas");
      try {
        await run(async () => {
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          canvas.getContext("2d").drawImage(video, 0, 0);
          const url = canvas.toDataURL("image/jpeg", 0.9);
          return { image: url.split(",", 2)[1], type: "image/jpeg" };
        });
      } finally {
        stream.getTracks().forEach((track) => track.stop());
      }
    }));
  $("stop").addEventListener("click", () => { stopped = true; });
}

setUpCamera();
