"""Run the exported Core ML model on one image (macOS 13 or later: Core ML runs only on Apple's systems).

pip install coremltools numpy pillow
python sample.py photo.jpg
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import coremltools as ct
import numpy as np
from PIL import Image
from postprocess import predictions
from preprocess import prepare

HERE = Path(__file__).resolve().parent


def main(image_path: str) -> None:
    metadata = json.loads((HERE / "metadata.json").read_text())
    model = ct.models.MLModel(str(HERE / "model.mlpackage"))
    pixels = prepare(Path(image_path).read_bytes(), metadata["input"]["size"])[0]
    result = model.predict({"image": Image.fromarray(pixels)})
    outputs = {name: np.asarray(value) for name, value in result.items()}
    for p in predictions(metadata, outputs)[:10]:
        print(f"{p['tagName']:<30} {p['probability']:.4f} {p.get('boundingBox') or ''}")


if __name__ == "__main__":
    main(sys.argv[1])
