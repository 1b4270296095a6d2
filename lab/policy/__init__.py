"""AWS's policy evaluation logic as pure functions over plain data.

document (parse, validate) -> context (derive keys) -> evaluate (Decision) -> explain (text).
Names load on first use, so importing `lab.policy.model` stays light. The hot modules load
compiled when a build of these very sources is ready (lab/policy/native.py).
"""

from __future__ import annotations

import importlib
from typing import Any

from lab.policy import native

native.enable(__path__)

_EXPORTS = {
    "parse_policy": "lab.policy.document",
    "PolicyError": "lab.policy.document",
    "derive": "lab.policy.context",
    "evaluate": "lab.policy.evaluate",
    "render_text": "lab.policy.explain",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lab.policy' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
