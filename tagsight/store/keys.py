"""API keys and the URL-signing secret, kept in ``<data_dir>/keys.json`` (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Keys:
    training_key: str
    prediction_key: str
    # Signs the image links the API hands out, so browsers can GET them without a key header.
    signing_secret: str


def _new_key() -> str:
    return secrets.token_hex(16)  # 32 hex characters, like Azure's keys


def _write(path: Path, keys: Keys) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(keys), f, indent=2)
    os.replace(tmp, path)


def keys_path(data_dir: Path) -> Path:
    return data_dir / "keys.json"


def load_or_create_keys(data_dir: Path) -> tuple[Keys, bool]:
    """Return the stored keys, generating them on first use; the flag says whether they are new."""
    path = keys_path(data_dir)
    if path.exists():
        return Keys(**json.loads(path.read_text())), False
    keys = Keys(_new_key(), _new_key(), secrets.token_hex(32))
    _write(path, keys)
    return keys, True


def rotate_keys(data_dir: Path) -> Keys:
    """Replace both API keys (the signing secret too, so old image links stop working)."""
    keys = Keys(_new_key(), _new_key(), secrets.token_hex(32))
    _write(keys_path(data_dir), keys)
    return keys
