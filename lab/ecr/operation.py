"""An ECR operation as the service's table holds it: its handler and whether it changes state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from lab.ecr.context import Context

Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]


class Operation(NamedTuple):
    handler: Handler
    mutates: bool  # whether the state must be written after it
    # It only records (pull times): saved when it can be, and a failed save fails no read.
    records: bool = False
