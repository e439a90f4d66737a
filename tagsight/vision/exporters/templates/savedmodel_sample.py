"""Run the exported TensorFlow SavedModel on one image.

pip install tensorflow numpy pillow
python sample.py photo.jpg
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import tensorflow as tf
from postprocess import predictions
from preprocess import prepare

HERE = Path(__file__).resolve().parent


def main(image_path: str) -> None:
    metadata = json.loads((HERE / "metadata.json").read_text())
    serve = tf.saved_model.load(str(HERE / "saved_model")).signatures["serving_default"]
    pixels = prepare(Path(image_path).read_bytes(), metadata["input"]["size"])
    raw = serve(image=tf.constant(pixels))
    # The signature names its outputs output_0, output_1, ... in the order metadata.json lists them.
    names = list(metadata["outputs"])
    outputs = {name: raw.get(name, raw.get(f"output_{i}")).numpy() for i, name in enumerate(names)}
    for p in predictions(metadata, outputs)[:10]:
        print(f"{p['tagName']:<30} {p['probability']:.4f} {p.get('boundingBox') or ''}")


if __name__ == "__main__":
    main(sys.argv[1])
