"""Run the exported OpenVINO IR (model.xml + model.bin) on one image.

pip install openvino numpy pillow
python sample.py photo.jpg
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import openvino as ov
from postprocess import predictions
from preprocess import prepare

HERE = Path(__file__).resolve().parent


def main(image_path: str) -> None:
    metadata = json.loads((HERE / "metadata.json").read_text())
    # float32 as exported: CPUs with bfloat16 units would otherwise compute in bfloat16.
    compiled = ov.Core().compile_model(str(HERE / "model.xml"), "CPU", metadata["compileConfig"])
    pixels = prepare(Path(image_path).read_bytes(), metadata["input"]["size"])
    result = compiled(pixels)
    outputs = {port.get_any_name(): result[port] for port in compiled.outputs}
    for p in predictions(metadata, outputs)[:10]:
        print(f"{p['tagName']:<30} {p['probability']:.4f} {p.get('boundingBox') or ''}")


if __name__ == "__main__":
    main(sys.argv[1])
