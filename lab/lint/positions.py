"""Where each element of a JSON or YAML document sits: its path, line and column.

The standard json module keeps no positions; this walks the text once with its scanners
(raw_decode for scalars, scanstring for keys), so it accepts exactly what json.loads accepts.
YAML's composer keeps a mark on every node, so a YAML document's positions come with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from json.decoder import scanstring
from typing import Any

import yaml

PathPart = str | int
Path = tuple[PathPart, ...]

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Position:
    """A place in the text: 1-based line and column, 0-based offset."""

    line: int
    column: int
    offset: int


def json_path(path: Path) -> str:
    """`Statement[0].Action[2]`: keys joined with dots, indices in brackets."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def positions(text: str) -> dict[Path, Position]:
    """Path -> where its value starts, for every value of the document (json.JSONDecodeError
    when the text is not JSON)."""
    found: dict[Path, Position] = {}
    end = _value(text, _skip(text, 0), (), found)
    if _skip(text, end) != len(text):
        raise json.JSONDecodeError("Extra data", text, _skip(text, end))
    return found


def position_at(text: str, offset: int) -> Position:
    """The line and column of `offset`."""
    line = text.count("\n", 0, offset) + 1
    return Position(line, offset - (text.rfind("\n", 0, offset) + 1) + 1, offset)


def _skip(text: str, index: int) -> int:
    return _SPACE.match(text, index).end()  # type: ignore[union-attr]


def _value(text: str, index: int, path: Path, found: dict[Path, Position]) -> int:
    found[path] = position_at(text, index)
    char = text[index : index + 1]
    if char == "{":
        return _object(text, index, path, found)
    if char == "[":
        return _array(text, index, path, found)
    return _DECODER.raw_decode(text, index)[1]


def _object(text: str, index: int, path: Path, found: dict[Path, Position]) -> int:
    index = _skip(text, index + 1)
    if text[index : index + 1] == "}":
        return index + 1
    while True:
        if text[index : index + 1] != '"':
            raise json.JSONDecodeError("Expecting property name", text, index)
        key, index = scanstring(text, index + 1)
        index = _skip(text, index)
        if text[index : index + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, index)
        index = _value(text, _skip(text, index + 1), (*path, key), found)
        index = _skip(text, index)
        if text[index : index + 1] == "}":
            return index + 1
        if text[index : index + 1] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


def _array(text: str, index: int, path: Path, found: dict[Path, Position]) -> int:
    index = _skip(text, index + 1)
    if text[index : index + 1] == "]":
        return index + 1
    item = 0
    while True:
        index = _skip(text, _value(text, index, (*path, item), found))
        item += 1
        if text[index : index + 1] == "]":
            return index + 1
        if text[index : index + 1] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


def yaml_positions(text: str) -> tuple[Any, dict[Path, Position]]:
    """A YAML document as plain values (every scalar a string, as IAM compares them; a
    CloudFormation tag such as `!Ref Role` kept as that text) and where each value starts.
    yaml.YAMLError when the text is not YAML."""
    found: dict[Path, Position] = {}
    # BaseLoader: no implicit types (`2012-10-17` stays text), no constructors, no code.
    node = yaml.compose(text, Loader=yaml.BaseLoader)
    return (None if node is None else _node(node, (), found)), found


# Aliases repeat a node without repeating its text: a few lines could stand for billions.
MAX_YAML_VALUES = 100_000


def _node(node: yaml.Node, path: Path, found: dict[Path, Position]) -> Any:
    if len(found) >= MAX_YAML_VALUES:
        raise yaml.YAMLError(f"more than {MAX_YAML_VALUES} values (aliases repeat too much)")
    mark = node.start_mark
    found[path] = Position(mark.line + 1, mark.column + 1, mark.index)
    if isinstance(node, yaml.SequenceNode):
        return [_node(item, (*path, i), found) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        return {
            str(key.value): _node(value, (*path, str(key.value)), found)
            for key, value in node.value
        }
    tag = node.tag if node.tag.startswith("!") and not node.tag.startswith("!!") else ""
    return f"{tag} {node.value}" if tag else node.value
