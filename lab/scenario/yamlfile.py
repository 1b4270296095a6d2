"""Read a YAML file into plain values that remember the line they came from.

Every scalar is read as a string, exactly as written: YAML's implicit typing would turn the
tutorial's unquoted `Version: 2012-10-17` into a date and an account `000000000000` into 0,
while IAM compares policy values as strings anyway (`true` and "true" mean the same to it).
"""

from __future__ import annotations

from pathlib import Path

import yaml


class Text(str):
    """A scalar with the line it was written on (1-based)."""

    line: int


class Mapping(dict):
    """A mapping with its own line and the line of each key."""

    line: int
    key_lines: dict[str, int]


class Sequence(list):
    """A sequence with its line and the line of each item."""

    line: int


Value = Text | Mapping | Sequence


class YamlError(ValueError):
    """A file that is not well-formed YAML, or repeats a key; the message names the line."""


def _text(value: str, line: int) -> Text:
    text = Text(value)
    text.line = line
    return text


def _convert(node: yaml.Node, source: str) -> Value:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        return _text(node.value, line)
    if isinstance(node, yaml.SequenceNode):
        items = Sequence(_convert(item, source) for item in node.value)
        items.line = line
        return items
    assert isinstance(node, yaml.MappingNode)
    mapping = Mapping()
    mapping.line, mapping.key_lines = line, {}
    for key_node, value_node in node.value:
        key = _convert(key_node, source)
        if not isinstance(key, Text):
            raise YamlError(f"{source}:{key.line}: a mapping key must be a plain value")
        if key in mapping:
            first = mapping.key_lines[key]
            raise YamlError(f"{source}:{key.line}: duplicate key {key!r} (first on line {first})")
        mapping[key] = _convert(value_node, source)
        mapping.key_lines[key] = key.line
    return mapping


def load(text: str, source: str = "<scenario>") -> Value | None:
    """The document in `text` (None when empty); YamlError names `source` and the line."""
    try:
        # BaseLoader: no implicit types, no tags beyond the core ones, no code execution.
        node = yaml.compose(text, Loader=yaml.BaseLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise YamlError(f"{where}: not valid YAML: {error.problem or error}") from None
    return None if node is None else _convert(node, source)


def load_file(path: Path) -> Value | None:
    """The document in the file at `path`."""
    return load(Path(path).read_text(encoding="utf-8"), str(path))
