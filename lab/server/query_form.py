"""The query protocol's form (IAM, STS; EC2's dialect): read once into typed parameters,
written back one way.

What executes is exactly what was authorized. The front door reads a request's fields once,
authorizes the typed parameters, and hands the upstream `encode(op, params)` (botocore's own
serialisation of those parameters), never the bytes it received. A form two readers could read
two ways is refused: a field given twice, in the body or in both the URL's query and the body
(moto executes the first value and prefers the URL; a reader of the last value, or of the body
alone, would authorize something else).

Reading is linear in the form's size: one pass files each field the model has a place for
into a tree of its dotted name, and the model's shapes are then read off that tree. Lists
longer (or shorter) than the model allows are refused with AWS's ValidationError before
anything else is done.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from botocore.model import OperationModel, Shape
from botocore.serialize import EC2Serializer, QuerySerializer

from lab.errors import AwsError

# IAM and STS API references, Common Errors: "InvalidQueryParameter: The AWS query string is
# malformed or does not adhere to AWS standards", HTTP 400.
_REPEATED = "The request has more than one value for the parameter {name}."


def read_form(body: bytes, query: str) -> dict[str, str]:
    """The request's fields, from the URL's query and the body together; a field given more
    than once, anywhere, is AWS's InvalidQueryParameter (it could be read two ways)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if body:
        pairs += parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise AwsError("InvalidQueryParameter", _REPEATED.format(name=name))
        fields[name] = value
    return fields


# More parts than any name of an IAM or STS input has; the rest of a longer name stays one part
# (which no shape matches), so a name of a million dots is split once, into this many.
_MAX_PARTS = 64


class _Node:
    """The fields under one dotted prefix: its own value (if given) and its children."""

    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.value: str | None = None
        self.children: dict[str, _Node] = {}


def _tree(shape: Shape, fields: Mapping[str, str], ec2: bool) -> _Node:
    """The fields filed under their dotted names, only where the model has a place for them."""
    root = _Node()
    for name, value in fields.items():
        node = _place(root, shape, name, ec2)
        if node is not None:
            node.value = value
    return root


def _place(node: _Node, shape: Shape, name: str, ec2: bool) -> _Node | None:
    """The node for `name` (`Tags.member.1.Key`; EC2's `TagSpecification.1.Tag.1.Key`), made as
    needed; None where the model has none. EC2's fields are filed as the query protocol's."""
    parts = iter(name.split(".", _MAX_PARTS))
    for part in parts:
        kind = shape.type_name
        if kind == "structure" and part in (members := _members(shape, ec2)):
            shape, steps = shape.members[members[part]], [members[part]]
        elif kind == "list" and ec2:  # EC2's lists are flat: `Name.1`, no `member`
            shape, steps = shape.member, ["member", part]
        elif kind == "list" and part == "member":
            shape, steps = shape.member, [part, next(parts, "")]
        elif kind == "map" and part == "entry":
            steps = [part, next(parts, ""), next(parts, "")]
            if steps[2] not in ("key", "value"):
                return None
            shape = shape.key if steps[2] == "key" else shape.value
        else:
            return None
        if len(steps) > 1 and not steps[1].isdecimal():
            return None
        for step in steps:
            child = node.children.get(step)
            if child is None:
                child = node.children[step] = _Node()
            node = child
    return node


def read_params(op: OperationModel, fields: Mapping[str, str]) -> dict[str, Any]:
    """Typed input from flattened form fields (`Tags.member.1.Key=...`), per the model, in the
    one form `encode` writes back: fields the model does not name, and structures, lists'
    items and maps with nothing in them, are not part of the request. List bounds are checked.
    """
    shape = op.input_shape
    if shape is None:
        return {}
    ec2 = op.metadata.get("protocol") == "ec2"
    params = _read_structure(shape, _tree(shape, fields, ec2), ()) or {}
    violations = list(_list_violations(shape, params, ()))
    if violations:
        plural = "s" if len(violations) > 1 else ""
        raise AwsError(
            "ValidationError",
            f"{len(violations)} validation error{plural} detected: " + "; ".join(violations),
        )
    return params


def encode(op: OperationModel, params: Mapping[str, Any]) -> bytes:
    """The one form these parameters are sent upstream as: botocore's query serialisation."""
    serializer = EC2Serializer() if op.metadata.get("protocol") == "ec2" else QuerySerializer()
    serialized = serializer.serialize_to_request(dict(params), op)
    return urlencode(serialized["body"]).encode("ascii")


@cache
def _members(shape: Shape, ec2: bool) -> dict[str, str]:
    """A structure's members by the name its fields carry on the wire: the member's own name, or
    EC2's queryName (else its capitalised locationName), as botocore's EC2Serializer writes."""
    if not ec2:
        return {name: name for name in shape.members}
    found = {}
    for name, member in shape.members.items():
        wire = member.serialization.get("queryName") or member.serialization.get("name") or name
        found[wire[:1].upper() + wire[1:]] = name
    return found


Path = tuple[str, ...]


def _located(path: Path) -> str:
    """How AWS names a member in constraint messages: `tags`, `tags.1.member.key`."""
    return ".".join(part[:1].lower() + part[1:] for part in path)


def _read_structure(shape: Shape, node: _Node, path: Path) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        child = node.children.get(name)
        if child is not None:
            value = _read_value(member, child, (*path, name))
            if value is not None:
                out[name] = value
    return out or None


def _read_value(shape: Shape, node: _Node, path: Path) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _read_structure(shape, node, path)
    if kind == "list":
        read = (
            _read_value(shape.member, item, (*path, str(index), "member"))
            for index, item in enumerate(_entries(node, "member"), start=1)
        )
        items = [item for item in read if item is not None]
        return items if items or node.value is not None else None
    if kind == "map":
        return _read_map(shape, node, path)
    if node.value is None:
        return None
    if kind in ("integer", "long"):
        try:
            return int(node.value)
        except ValueError:
            raise AwsError(
                "ValidationError",
                f"1 validation error detected: Value '{node.value}' at '{_located(path)}' failed "
                "to satisfy constraint: Member must be a number",
            ) from None
    if kind == "boolean":
        return node.value.lower() == "true"
    return node.value


def _read_map(shape: Shape, node: _Node, path: Path) -> dict[str, Any] | None:
    found: dict[str, Any] = {}
    for entry in _entries(node, "entry"):
        key, item = entry.children.get("key"), entry.children.get("value")
        value = _read_value(shape.value, item, path) if item is not None else None
        if key is None or key.value is None or value is None:
            continue
        if key.value in found:  # one key twice: as ambiguous as one field twice
            name = f"{_located(path)}.{key.value}"
            raise AwsError("InvalidQueryParameter", _REPEATED.format(name=name))
        found[key.value] = value
    return found or None


def _entries(node: _Node, kind: str) -> Iterator[_Node]:
    """`kind.1`, `kind.2`, ... up to the first index not given."""
    numbered = node.children.get(kind)
    if numbered is None:
        return
    index = 1
    while (entry := numbered.children.get(str(index))) is not None:
        yield entry
        index += 1


def _list_violations(shape: Shape, value: Any, path: Path) -> Iterator[str]:
    """AWS's constraint messages for every list (at any depth) outside the model's bounds."""
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members.items():
            if name in value and _holds_lists(member):
                yield from _list_violations(member, value[name], (*path, name))
    elif kind == "list":
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        broken = None
        if low is not None and len(value) < low:
            broken = f"greater than or equal to {low}"
        elif high is not None and len(value) > high:
            broken = f"less than or equal to {high}"
        if broken:
            yield (
                f"Value '{_shown(value)}' at '{_located(path)}' failed to satisfy constraint: "
                f"Member must have length {broken}"
            )
        if _holds_lists(shape.member):
            for index, item in enumerate(value, start=1):
                yield from _list_violations(shape.member, item, (*path, str(index), "member"))


@cache
def _holds_lists(shape: Shape) -> bool:
    """Whether a value of `shape` can contain a list (models are finite; shapes are kept)."""
    if shape.type_name == "list":
        return True
    if shape.type_name == "structure":
        return any(map(_holds_lists, shape.members.values()))
    return False


def _shown(value: Any) -> str:
    """A value as AWS's (Java) messages print it: `[a, b]`, `{Key: k, Value: v}`."""
    if isinstance(value, list):
        return "[" + ", ".join(map(_shown, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_shown(item)}" for key, item in value.items()) + "}"
    return str(value)
