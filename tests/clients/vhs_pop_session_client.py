# The seed's "JavaScript — PoP Session Flow" example (shared/seeds/002_c6714e911e014dda.txt),
# ported line for line to Python (names in Python's case).  Unchanged except that the base
# URL and the key come from the environment (customers put their own there), and that
# capture_frame ("your capture function") takes the next picture from FRAMES_DIR
# (frame-00.jpg, frame-01.jpg, ...).
import base64
import json
import os
import sys
from pathlib import Path

import requests

API_BASE = os.environ.get("API_BASE", "https://api.radanalyzer.com")
headers = {
    "x-api-key": os.environ.get("API_KEY", "YOUR_API_KEY"),
    "Content-Type": "application/json",
}

_frames = iter(sorted(Path(os.environ.get("FRAMES_DIR", ".")).glob("frame-*")))


def capture_frame():  # your capture function
    return base64.b64encode(next(_frames).read_bytes()).decode()


# Step 1: Start a PoP session
start_res = requests.post(
    f"{API_BASE}/v3/pop-session/start",
    headers=headers,
    data=json.dumps({}),
)
session_id = start_res.json()["session_id"]

# Step 2: Send frames until session completes
session_complete = False
while not session_complete:
    frame_base64 = capture_frame()  # your capture function
    frame_res = requests.post(
        f"{API_BASE}/v3/pop-session",
        headers=headers,
        data=json.dumps({"image": frame_base64, "session_id": session_id, "uuid": "patient-123"}),
    )
    result = frame_res.json()
    if result["session_status"] == "complete":
        print("VHS:", result["prediction"]["vhs"])
        print("VLAS:", result["prediction"]["vlas"])
        session_complete = True
    elif result["session_status"] == "failed":
        print("Session failed:", result["error"], file=sys.stderr)
        session_complete = True
    else:
        print("Feedback:", result["feedback"])
        # Show feedback to user, capture another frame
