"""Run the exported TensorFlow Lite model on one image with LiteRT.

pip install ai-edge-litert numpy pillow     (or use tensorflow's tf.lite.Interpreter)
python sample.py photo.jpg
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from postprocess import predictions
from preprocess import prepare

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # TensorFlow ships the same interpreter
    from tensorflow.lite import Interpreter

HERE = Path(__file__).resolve().parent


def main(image_path: str) -> None:
    metadata = json.loads((HERE / "metadata.json").read_text())
    runner = Interpreter(model_path=str(HERE / "model.tflite")).get_signature_runner()
    pixels = prepare(Path(image_path).read_bytes(), metadata["input"]["size"])
    outputs = runner(image=pixels)
    for p in predictions(metadata, outputs)[:10]:
        print(f"{p['tagName']:<30} {p['probability']:.4f} {p.get('boundingBox') or ''}")


if __name__ == "__main__":
    main(sys.argv[1])
