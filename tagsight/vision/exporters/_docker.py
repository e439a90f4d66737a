"""DockerFile: a container bundle that serves Azure's prediction routes with onnxruntime.

Flavors ``Linux`` (x86-64) and ``ARM`` (64-bit ARM, e.g. a Raspberry Pi 4/5 or Jetson with a 64-bit
OS) differ only in the base image; onnxruntime, numpy and Pillow publish wheels for both. Azure's
``Windows`` flavor is not offered: its container images need a Windows host.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx

from tagsight.vision.exporters._bundle import Bundle, add_common, describe, readme, standard_outputs, template
from tagsight.vision.exporters._onnx import input_description, load
from tagsight.vision.exporters._registry import ExportRequest, register_exporter

BASE_IMAGES = {
    "Linux": "python:3.11-slim",
    "ARM": "--platform=linux/arm64 python:3.11-slim",
}
REQUIREMENTS = "onnxruntime>=1.16\nnumpy>=1.24\npillow>=10.0\n"


@register_exporter("DockerFile", (None, "Linux", "ARM"))
def write_docker(request: ExportRequest, bundle: Bundle) -> None:
    model, info = load(request)
    flavor = request.flavor or "Linux"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        onnx.save(model, str(path))
        bundle.add_file("app/model.onnx", path)
    bundle.add_text("app/server.py", template("docker_server.py"))
    bundle.add_text("requirements.txt", REQUIREMENTS)
    bundle.add_text(
        "Dockerfile", template("Dockerfile.template").format(flavor=flavor, base_image=BASE_IMAGES[flavor])
    )
    metadata = describe(info, request, inputs=input_description(info), outputs=standard_outputs(info))
    body = (
        "## Run it\n\n"
        "```sh\n"
        "docker build -t tagsight-model .\n"
        "docker run -p 8080:80 tagsight-model\n"
        "python sample.py photo.jpg http://127.0.0.1:8080\n"
        "```\n\n"
        "Without Docker: `pip install -r requirements.txt`; `cd app && python server.py --port 8080`.\n\n"
        "## Routes (as Azure's container)\n\n"
        "- `POST /image`: the image as the body (raw bytes, or a multipart form field `imageData`).\n"
        '- `POST /url`: `{"url": "https://..."}`.\n'
        "- `POST /{project}/classify/iterations/{name}/image` and `/url` (`detect` for detectors),\n"
        "  so an app written for the Prediction API only needs its endpoint changed; a trailing\n"
        "  `/nostore` is accepted. Keys are not checked.\n"
        "- `GET /`: `Healthy`.\n\n"
        "Answers are Azure's `ImagePrediction` JSON, computed as Tagsight's Prediction API computes them.\n"
    )
    add_common(
        bundle,
        info,
        request,
        metadata=metadata,
        readme=readme(f"Tagsight model server ({flavor})", info, body),
        sample=template("docker_sample.py"),
        model_dir="app",
    )
