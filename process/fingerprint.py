"""Stable hashes of task inputs and outputs."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(value: Any) -> str:
    """SHA-256 of a JSON value, independent of key order."""
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def fingerprint_for(**parts: Any) -> str:
    return stable_hash(parts)
