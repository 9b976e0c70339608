"""The naive baseline: a bare FastAPI handler that calls `model.predict` on an OIP v2 request.

No validation beyond pydantic's, no monitoring, no batching, `predict` on the event loop. It is the
floor that `modelops serve` is compared against for single-client latency. Run it with the same
uvicorn settings as `modelops serve`:

    BARE_MODEL_PATH=model.joblib BARE_MODEL_NAME=lr \
        uvicorn bare_app:app --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

import os
from typing import Any

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

MODEL_NAME = os.environ.get("BARE_MODEL_NAME", "model")
model = joblib.load(os.environ["BARE_MODEL_PATH"])

app = FastAPI()


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferenceRequest(BaseModel):
    id: str | None = None
    inputs: list[RequestInput]


@app.get("/v2/health/live")
async def live() -> dict[str, bool]:
    return {"live": True}


@app.get("/v2/health/ready")
async def ready() -> dict[str, bool]:
    return {"ready": True}


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: InferenceRequest) -> dict[str, Any]:
    tensor = request.inputs[0]
    rows = np.asarray(tensor.data, dtype=np.float64).reshape(tensor.shape)
    predictions = model.predict(rows)
    return {
        "model_name": MODEL_NAME,
        "id": request.id,
        "outputs": [
            {
                "name": "predict",
                "shape": [len(predictions)],
                "datatype": "INT64",
                "data": predictions.tolist(),
            }
        ],
    }
