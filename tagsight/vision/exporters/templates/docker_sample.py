"""Send one image to the bundle's server (started with Docker or directly) and print the answer.

docker build -t my-model . && docker run -p 8080:80 my-model
python sample.py photo.jpg http://127.0.0.1:8080
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path


def main(image_path: str, endpoint: str = "http://127.0.0.1:80") -> None:
    request = urllib.request.Request(
        endpoint.rstrip("/") + "/image",
        data=Path(image_path).read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result = json.load(response)
    for p in result["predictions"][:10]:
        print(f"{p['tagName']:<30} {p['probability']:.4f} {p.get('boundingBox') or ''}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
