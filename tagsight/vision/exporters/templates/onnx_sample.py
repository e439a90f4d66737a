"""Run the exported ONNX model on one image with onnxruntime.

pip install onnxruntime numpy pillow
python sample.py photo.jpg
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import onnxruntime as ort
from postprocess import predictions
from preprocess import prepare

HERE = Path(__file__).resolve().parent


def main(image_path: str) -> None:
    metadata = json.loads((HERE / "metadata.json").read_text())
    session = ort.InferenceSession(str(HERE / "model.onnx"), providers=["CPUExecutionProvider"])
    pixels = prepare(Path(image_path).read_bytes(), metadata["input"]["size"])
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(names, {metadata["input"]["name"]: pixels}), strict=True))
    for p in predictions(metadata, outputs)[:10]:
        print(f"{p['tagName']:<30} {p['probability']:.4f} {p.get('boundingBox') or ''}")


if __name__ == "__main__":
    main(sys.argv[1])
