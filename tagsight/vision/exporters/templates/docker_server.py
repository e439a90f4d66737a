"""A small prediction server for the exported model, answering Azure Custom Vision's routes.

    POST /image            body: the image (raw bytes, or multipart form field imageData)
    POST /url              body: {"url": "https://..."}
    POST /{project}/classify/iterations/{name}/image    (and /url, and detect instead of classify;
                                                          a trailing /nostore is accepted too, and
                                                          any prefix such as the SDK's
                                                          /customvision/v3.0/prediction)
    GET  /                 "Healthy"

Answers are Azure's ImagePrediction JSON: {"id", "project", "iteration", "created",
"predictions": [{"tagId", "tagName", "tagType", "probability", "boundingBox"?}]}. Python's
standard library serves HTTP; onnxruntime, numpy and Pillow do the rest.

    python server.py --host 0.0.0.0 --port 80
"""

from __future__ import annotations

import argparse
import json
import re
import urllib.request
import uuid
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import onnxruntime as ort
from postprocess import predictions
from preprocess import prepare

HERE = Path(__file__).resolve().parent
MAX_BYTES = 4 * 1024 * 1024  # Azure's prediction limit
URL_TIMEOUT_S = 10
# Any prefix is accepted before the project id, so the official SDK, whose paths start with
# /customvision/v3.0/prediction/, can be pointed at this server unchanged.
_ROUTE = re.compile(
    r"^.*?/(?:(?P<project>[^/]+)/(?P<verb>classify|detect)/iterations/(?P<name>[^/]+)/)?"
    r"(?P<source>image|url)(?:/nostore)?/?$"
)


class ClientError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Model:
    def __init__(self, directory: Path, threads: int = 0) -> None:
        self.metadata = json.loads((directory / "metadata.json").read_text())
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.size = int(self.metadata["input"]["size"])

    def predict(self, data: bytes) -> dict[str, Any]:
        try:
            pixels = prepare(data, self.size)
        except Exception as exc:  # Pillow raises many types for bad input; all mean the same here
            raise ClientError("BadRequestImageFormat", "The body is not a supported image.") from exc
        raw = dict(zip(self.outputs, self.session.run(self.outputs, {"image": pixels}), strict=True))
        return {
            "id": str(uuid.uuid4()),
            "project": self.metadata.get("projectId", ""),
            "iteration": self.metadata.get("iterationId", ""),
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "predictions": predictions(self.metadata, raw),
        }


def _image_from_body(content_type: str, body: bytes) -> bytes:
    if content_type.lower().startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
        )
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            if payload:
                return bytes(payload)
        raise ClientError("BadRequestImageStream", "The form contains no image.")
    if not body:
        raise ClientError("BadRequestImageStream", "The request contains no image.")
    return body


def _image_from_url(body: bytes) -> bytes:
    try:
        url = json.loads(body or b"{}")["url"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ClientError("BadRequestImageUrl", 'Send {"url": "..."} as JSON.') from exc
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as response:  # noqa: S310 - the caller's URL
            data = response.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise ClientError("BadRequestImageUrl", f"Could not download the image: {exc}") from exc
    if len(data) > MAX_BYTES:
        raise ClientError("BadRequestImageSizeBytes", "The image is larger than 4 MB.")
    return data


class Handler(BaseHTTPRequestHandler):
    model: Model
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        self.send_response(status)
        self.send_header(
            "Content-Type", "application/json" if not isinstance(payload, bytes) else "text/plain"
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] in ("/", "/health"):
            self._send(200, b"Healthy")
        else:
            self._send(404, {"code": "NotFound", "message": "No such route."})

    def do_POST(self) -> None:  # noqa: N802
        match = _ROUTE.match(self.path.split("?")[0])
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BYTES + 65536:
            self._send(400, {"code": "BadRequestImageSizeBytes", "message": "The image is larger than 4 MB."})
            return
        body = self.rfile.read(length)
        if match is None:
            self._send(404, {"code": "NotFound", "message": "No such route."})
            return
        try:
            verb = match.group("verb")
            kind = "detection" if verb == "detect" else "classification"
            if verb and kind != self.model.metadata["kind"]:
                other = "detect" if verb == "classify" else "classify"
                raise ClientError("BadRequestNotSupported", f"This model is not for /{verb}/; use /{other}/.")
            if match.group("source") == "url":
                data = _image_from_url(body)
            else:
                data = _image_from_body(self.headers.get("Content-Type", ""), body)
            if len(data) > MAX_BYTES:
                raise ClientError("BadRequestImageSizeBytes", "The image is larger than 4 MB.")
            self._send(200, self.model.predict(data))
        except ClientError as exc:
            self._send(400, {"code": exc.code, "message": exc.message})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all cores)")
    args = parser.parse_args()
    Handler.model = Model(HERE, args.threads)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"Listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
