# The seed's "Python - Complete Example" (shared/seeds/000_97107403a796c8b0.txt), indentation
# restored, unchanged otherwise except API_URL, which the test passes in the environment
# (the seed's client code is what customers run; it must work as it is).
import base64
import os

import requests

API_URL = os.environ.get("API_URL", "https://camlas-leukemia-hybridcn-nas.hf.space")


def predict_leukemia_base64(image_path):
    """Predict leukemia classification using base64 endpoint"""
    # Encode image
    with open(image_path, "rb") as f:
        image_b64 = base64.b64encode(f.read()).decode()
    # Simple API request - no authentication needed
    response = requests.post(
        f"{API_URL}/predict",
        json={"image_base64": image_b64},
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    return response.json()


def predict_leukemia_upload(image_path):
    """Predict leukemia classification using file upload endpoint"""
    with open(image_path, "rb") as f:
        files = {"file": ("image.jpg", f, "image/jpeg")}
        response = requests.post(f"{API_URL}/predict/upload", files=files, timeout=30)
    return response.json()


def check_api_health():
    """Check API health status"""
    response = requests.get(f"{API_URL}/health", timeout=30)
    return response.json()


# Usage Examples
if __name__ == "__main__":
    # Health check
    health = check_api_health()
    print(f"API Status: {health['status']}")
    print(f"Models Loaded: {health['models_loaded_count']}/{health['total_models_required']}")
    # Prediction
    result = predict_leukemia_base64("cell_image.jpg")
    if result["status_code"] == 200:
        prediction = result["data"]["prediction"]
        print(f"Class: {prediction['predicted_class']}")
        print(f"Confidence: {prediction['confidence']:.1%}")
        print(f"Description: {prediction['description']}")
    else:
        print(f"Error: {result['error']}")
    # Not in the seed's usage block, but its own function: the upload path too.
    upload = predict_leukemia_upload("cell_image.jpg")
    print(f"Upload: {upload['data']['prediction']['predicted_class']}")
