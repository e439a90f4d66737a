"""Run the exported TensorFlow Lite model on one image with LiteRT.

pip install ai-edge-litert numpy pillow     (or use tensorflow's tf.lite.Interpreter)
python sample.py photo.jpg
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from postprocess import predictions
from preprocess import prepare

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # TensorFlow ships the same interpreter
    from tensorflow.lite import Interpreter

HERE = Path(__file__).resolve().parent


def run(interpreter: Interpreter, pixels: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Outputs by name; the converter keeps the ONNX model's output order (names in metadata.json)."""
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels)
    interpreter.invoke()
    return {
        name: interpreter.get_tensor(d["index"])
        for name, d in zip(names, interpreter.get_output_details(), strict=True)
    }


def main(image_path: str) -> None:
    metadata = json.loads((HERE / "metadata.json").read_text())
    interpreter = Interpreter(model_path=str(HERE / "model.tflite"))
    interpreter.allocate_tensors()
    pixels = prepare(Path(image_path).read_bytes(), metadata["input"]["size"])
    outputs = run(interpreter, pixels, list(metadata["outputs"]))
    for p in predictions(metadata, outputs)[:10]:
        print(f"{p['tagName']:<30} {p['probability']:.4f} {p.get('boundingBox') or ''}")


if __name__ == "__main__":
    main(sys.argv[1])
