"""The peer: the platform's reference models served by LitServe, as a team would instead.

A LitServe ``LitAPI`` per product, on the same paths and bodies as the platform's endpoints
(``/vhs/v3/predict`` with ``{"image": base64, "render": false}``, ``/leukemia/predict`` with
``{"image_base64": base64}``), running the same code the platform's worker runs for the
model work: the product's declared decoder (size and pixel limits), its networks and its
pipeline, from the same weight files, in the inference process LitServe starts
(``ProductRuntime.run_inline``: a one-group product's batch as one forward pass, a
pipeline's images one after another).  No authentication, billing, history or envelope:
what is left is the model server a team would write.

Configured as LitServe's documentation recommends for a CPU model with dynamic batching:
one worker per API (``workers_per_device=1``), ``max_batch_size=16``,
``batch_timeout=0.005`` s, torch's default threads.  Run from a Python path that has
LitServe (``make bench`` installs ``bench/peer/requirements.txt`` into ``var/peer-site``):

    PYTHONPATH=var/peer-site .venv/bin/python bench/peer/server.py --port 8765
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import litserve as ls  # noqa: E402
from fastapi import HTTPException  # noqa: E402

MAX_BATCH_SIZE = 16
BATCH_TIMEOUT_S = 0.005


class ProductAPI(ls.LitAPI):
    """One product's models behind one path."""

    def __init__(self, product: str, path: str, image_field: str) -> None:
        super().__init__(
            max_batch_size=MAX_BATCH_SIZE, batch_timeout=BATCH_TIMEOUT_S, api_path=path
        )
        self.product, self.image_field = product, image_field

    def setup(self, device: str) -> None:
        import django

        django.setup()
        from inference.runtime.product import product as declared
        from inference.runtime.serving import ProductRuntime

        self.runtime = ProductRuntime(declared(self.product))
        if not self.runtime.load():
            raise RuntimeError(f"{self.product} models not loaded: {self.runtime.status()}")

    # Unannotated on purpose: LitServe (FastAPI) then reads ``request`` as the JSON body.
    def decode_request(self, request):
        try:
            raw = base64.b64decode(str(request[self.image_field]), validate=True)
        except (KeyError, binascii.Error) as error:
            raise HTTPException(400, f"{self.image_field} must be base64") from error
        return {"image_bytes": raw, "render": bool(request.get("render", False))}

    def predict(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.runtime.run_inline(items)

    def encode_response(self, output: dict[str, Any]) -> dict[str, Any]:
        return output


def apis() -> list[ProductAPI]:
    return [
        ProductAPI("vhs", "/vhs/v3/predict", "image"),
        ProductAPI("leukemia", "/leukemia/predict", "image_base64"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = ls.LitServer(apis(), accelerator="cpu", workers_per_device=1, timeout=300)
    server.run(host="127.0.0.1", port=args.port, generate_client_file=False)


if __name__ == "__main__":
    main()
