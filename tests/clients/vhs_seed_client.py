# The seed's "Python — Single Image" example (shared/seeds/002_c6714e911e014dda.txt),
# indentation restored, unchanged except that the base URL and the key come from the
# environment (customers put their own there).
import base64
import os

import requests

API_BASE = os.environ.get("API_BASE", "https://api.radanalyzer.com")
YOUR_API_KEY = os.environ.get("API_KEY", "YOUR_API_KEY")

# Read and encode the radiograph
with open("radiograph.jpg", "rb") as f:
    image_data = base64.b64encode(f.read()).decode()
# Send prediction request
response = requests.post(
    f"{API_BASE}/v3/predict",
    headers={"x-api-key": YOUR_API_KEY, "Content-Type": "application/json"},
    json={"image": image_data, "uuid": "patient-123", "render": True},
)
data = response.json()
print(f"VHS: {data['vhs']}")
print(f"VLAS: {data['vlas']}")
print(f"Confidence: {data['model_confidence']}")
print(f"Spread: {data['spread']}")
print(f"Result: {data['result_description']}")
