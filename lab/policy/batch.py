"""`simulate --batch`: one JSON case per line in, one JSON answer per line out, in order.

Case: {"principal", "action", "resource", "identity_policies": [DOC...],
"resource_policy": DOC|null, "permissions_boundary": DOC?, "session_policy": DOC?,
"registry_policy": DOC?, "context": {key: str | [str]}?, "scps": [[DOC...] per level from
the root down]?, "rcps": [[DOC...] per level]?, "endpoint_policy": DOC?,
"management_account": bool?}; DOC is a JSON object or a JSON string of one.
Answer: {"decision": "allowed" | "explicit_deny" | "implicit_deny", "message",
"matched": [{"policy", "index", "statement", "sid", "level" (SCPs and RCPs only)}]}, or
{"decision": "error", "error"} for a case that cannot be evaluated; the batch goes on.
It streams (answers flushed per chunk read), caches parsed policies by their JSON text, and
can spread blocks of lines over worker processes (`simulate --jobs`) with answers in order.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any, BinaryIO

import orjson

from lab.policy.context import derive
from lab.policy.document import PolicyError, is_mapping, parse_policy
from lab.policy.evaluate import evaluate
from lab.policy.model import Decision, DocumentKind, Policy, PolicySet, Request, build_from
from lab.policy.workers import ordered, readable

_CHUNK = 1 << 16
_BLOCK_READS = 4  # a worker's task: at most 256 KiB of lines
# Parsed documents kept: a batch that repeats policies repeats a few (a CI batch checks a
# handful of policy sets); more would mostly hold one-off documents, and cost more than they save.
_POLICY_CACHE = 256
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_quote = encode_basestring  # how _encode writes a string
_decode = json.JSONDecoder().decode
_LEVEL = '"level":'
# A document's key: its JSON text as json (str) or orjson (bytes, for orjson's values only: it
# writes NaN as null and a date as a string) writes it; a document given as a string is its own.
_Dump = Callable[[Any], str | bytes]
_PARSED: dict[tuple[str | bytes, DocumentKind], Policy | PolicyError] = {}


def _orjson_key(doc: Any) -> bytes:
    # orjson's bytes keep the whole buffer it wrote into (4 KiB): a cached key holds a copy.
    return bytes(memoryview(orjson.dumps(doc)))


class CaseError(ValueError):
    """A case that cannot be evaluated: bad JSON, a missing field, an invalid policy."""


def answer_line(line: str | bytes) -> str:
    """The JSON answer (no newline) for one JSON case line (text, or UTF-8 as read); errors
    become error answers."""
    try:
        case, by_orjson = _read_line(line)
        request, policies = _read_case(case, _orjson_key if by_orjson else _encode)
        # An answer shows no trace; derive() lower-cased the context's keys.
        decision = evaluate(request, policies, trace=False, lowered=True)
    except (CaseError, ValueError) as error:
        return _encode({"decision": "error", "error": str(error)})
    except Exception as error:  # fail closed: an unforeseen failure is an error, never an allow
        return _encode({"decision": "error", "error": f"{type(error).__name__}: {error}"})
    return answer_json(decision)


def answer_json(decision: Decision) -> str:
    """`answer(decision)` as compact JSON text, written from a template: the same characters."""
    matched = ",".join(
        [
            f'{{"policy":"{ref.policy}","index":{ref.index},"statement":{ref.statement},'
            f'"sid":{"null" if ref.sid is None else _quote(ref.sid)}'
            f"{'' if ref.level is None else ',' + _LEVEL + str(ref.level)}}}"
            for ref in decision.matched
        ]
    )
    return (
        f'{{"decision":"{decision.outcome}","message":{_quote(decision.message)},'
        f'"matched":[{matched}]}}'
    )


def answer(decision: Decision) -> dict[str, Any]:
    """The contract's answer object for a decision."""
    return {
        "decision": decision.outcome,
        "message": decision.message,
        "matched": [
            {"policy": ref.policy, "index": ref.index, "statement": ref.statement, "sid": ref.sid}
            | ({} if ref.level is None else {"level": ref.level})
            for ref in decision.matched
        ],
    }


def decide_case(case: Any) -> Decision:
    """Evaluate one decoded case. Raises CaseError when it cannot be evaluated."""
    request, policies = read_case(case)
    return evaluate(request, policies)


def read_case(case: Any) -> tuple[Request, PolicySet]:
    """The request (context derived from the principal) and policies a case describes."""
    return _read_case(case, _encode)


def _read_case(case: Any, dump: _Dump) -> tuple[Request, PolicySet]:
    """read_case(), with `dump` writing a decoded policy document as its cache key."""
    if not is_mapping(case):
        raise CaseError("a case is a JSON object")
    principal = _text(case, "principal")
    action = _text(case, "action")
    resource = _text(case, "resource")
    identity = case.get("identity_policies") or []
    if not isinstance(identity, list):
        raise CaseError("identity_policies must be a list")
    context = case.get("context") or {}
    if not is_mapping(context):
        raise CaseError(_CONTEXT_SHAPE)
    for value in context.values():
        if type(value) is not str and not _context_value(value):
            raise CaseError(_CONTEXT_SHAPE)
    fields = {
        "identity": tuple([_policy(doc, "identity", i, dump) for i, doc in enumerate(identity)]),
        "resource": _optional(case, "resource_policy", resource_policy_kind(resource), dump),
        "boundary": _optional(case, "permissions_boundary", "boundary", dump),
        "session": _optional(case, "session_policy", "session", dump),
        "registry": _optional(case, "registry_policy", "registry", dump),
    }
    fields.update(_guardrails(case, dump))
    policies = build_from(PolicySet, fields)
    request = build_from(
        Request,
        {
            "principal": principal,
            "action": action,
            "resource": resource,
            "context": derive(principal, context),
        },
    )
    return request, policies


_CONTEXT_SHAPE = "context must map keys to a string or a list of strings"
# The optional guardrail fields, and the PolicySet fields of a case without any of them.
_GUARDRAIL_KEYS = frozenset({"scps", "rcps", "endpoint_policy", "management_account"})
_UNGUARDED: dict[str, Any] = {"scps": (), "rcps": (), "endpoint": None, "management_account": False}
# The fields of policies by level, and how each reads its documents.
_LEVELED: tuple[tuple[str, DocumentKind], ...] = (("scps", "identity"), ("rcps", "resource"))


def _guardrails(case: Mapping[str, Any], dump: _Dump) -> dict[str, Any]:
    """The optional Organizations and VPC endpoint fields, every PolicySet field given (build()
    sets no defaults); absent ones change nothing.

    SCPs have no Principal (parsed as identity policies); RCPs and endpoint policies name one
    (parsed as resource-based policies)."""
    if _GUARDRAIL_KEYS.isdisjoint(case):
        return _UNGUARDED  # the common case: the caller copies it into its own fields
    found = dict(_UNGUARDED)
    for key, kind in _LEVELED:
        levels = case.get(key)
        if levels is None:
            continue
        if not isinstance(levels, list) or not all(isinstance(lv, list) for lv in levels):
            raise CaseError(f"{key} must be a list of levels, each a list of policies")
        found[key] = tuple(
            tuple(_policy(doc, kind, f"{key}[{n}][{i}]", dump) for i, doc in enumerate(level))
            for n, level in enumerate(levels)
        )
    found["endpoint"] = _optional(case, "endpoint_policy", "resource", dump)
    management = case.get("management_account", False)
    if not isinstance(management, bool):
        raise CaseError("management_account must be true or false")
    found["management_account"] = management
    return found


def _context_value(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all([isinstance(item, str) for item in value])
    )


@lru_cache(maxsize=4096)
def resource_policy_kind(resource: str) -> DocumentKind:
    """ECR repository policies have ECR's rules; any other resource gets the generic ones."""
    parts = resource.split(":", 5)
    is_repository = len(parts) == 6 and parts[2] == "ecr" and parts[5].startswith("repository/")
    return "repository" if is_repository else "resource"


def _text(case: Mapping[str, Any], key: str) -> str:
    value = case.get(key)
    if not isinstance(value, str) or not value:
        raise CaseError(f"{key} must be a non-empty string")
    return value


def _optional(case: Mapping[str, Any], key: str, kind: DocumentKind, dump: _Dump) -> Policy | None:
    doc = case.get(key)
    return None if doc is None else _policy(doc, kind, key, dump)


def _policy(doc: Any, kind: DocumentKind, where: str | int, dump: _Dump) -> Policy:
    """The parsed policy; `where` names its field, or its index in identity_policies."""
    # Identical policies repeat across cases: parse each JSON text once, errors included.
    text = doc if isinstance(doc, str) else dump(doc)
    key = (text, kind)
    result = _PARSED.get(key)
    if result is None:
        try:
            result = parse_policy(doc, kind, source=text)
        except PolicyError as error:
            result = error
        if len(_PARSED) >= _POLICY_CACHE:
            _PARSED.clear()  # bounded: memory stays flat over any number of cases
        _PARSED[key] = result
    if isinstance(result, PolicyError):
        field = f"identity_policies[{where}]" if isinstance(where, int) else where
        raise CaseError(f"{field}: {result}")
    return result


# orjson reads a case as json does, faster, except an integer past 64 bits (it gives a float):
# a line with a run of 19 digits goes to json. Any line orjson rejects does too, for json's value
# or error.
_DIGITS = bytes.maketrans(b"0123456789", b"9" * 10)
_LONG_NUMBER = b"9" * 19
_WS = re.compile(r"[ \t\n\r]*")
_WS_CHARS = frozenset(" \t\n\r")
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__


def _read_line(line: str | bytes) -> tuple[Any, bool]:
    """The decoded case line, and whether orjson decoded it (its policies then key by orjson)."""
    try:
        raw = line if isinstance(line, bytes) else line.encode()
        if _LONG_NUMBER not in raw.translate(_DIGITS):
            return orjson.loads(raw), True
    except ValueError:  # not UTF-8 (a lone surrogate), or not JSON to orjson
        pass
    if isinstance(line, bytes):  # read as text, bytes that are not UTF-8 replaced
        return _read_line(line.decode(errors="replace"))
    try:
        return _decode(line), False
    except ValueError:
        return _read_object(line), False


def _read_object(line: str) -> Any:
    """Decode a case line as json does, with its own error for a malformed object.

    This reader walks the top-level object and hands every value to json's scanner.
    """
    skip = _skip
    try:
        pos = skip(line, 0)
        if line[pos : pos + 1] != "{":
            return _decode(line)  # not an object: json gives its own error or value
        case: dict[str, Any] = {}
        pos = skip(line, pos + 1)
        while line[pos] != "}" or case:
            key, pos = _scan(line, pos) if line[pos] == '"' else _fail(pos)
            pos = skip(line, pos)
            pos = skip(line, pos + 1) if line[pos] == ":" else _fail(pos)
            if key == "identity_policies" and line[pos] == "[":
                case[key], pos = _documents(line, pos)
            else:
                case[key], pos = _scan(line, pos)
            pos = skip(line, pos)
            if line[pos] == "}":
                break
            pos = skip(line, pos + 1) if line[pos] == "," else _fail(pos)
        if skip(line, pos + 1) != len(line):
            _fail(pos + 1)
        return case
    except (StopIteration, IndexError) as error:
        raise ValueError(
            f"invalid JSON near character {getattr(error, 'value', len(line))}"
        ) from None


def _skip(line: str, pos: int) -> int:
    """The position after any JSON whitespace at `pos` (mostly none, or one space)."""
    if line[pos : pos + 1] not in _WS_CHARS:
        return pos
    return _WS.match(line, pos).end()  # type: ignore[union-attr]  # [ ...]* always matches


def _fail(pos: int) -> Any:
    raise StopIteration(pos)


def _documents(line: str, pos: int) -> tuple[list[Any], int]:
    docs: list[Any] = []
    pos = _skip(line, pos + 1)
    while line[pos] != "]":
        doc, pos = _scan(line, pos)
        docs.append(doc)
        pos = _skip(line, pos)
        if line[pos] == ",":
            pos = _skip(line, pos + 1)
        elif line[pos] != "]":
            _fail(pos)
    return docs, pos + 1


def run(source: int, sink: BinaryIO, jobs: int = 1) -> int:
    """Answer every case line read from file descriptor `source`; returns how many.

    With `jobs` > 1, blocks of lines (up to 256 KiB) go to that many worker processes, at most
    two blocks per worker in flight (memory stays flat); answers come back in order, and whatever is
    in flight is written as soon as the input pauses, so a waiting writer gets its answers.
    """
    if jobs <= 1:
        return sum(_write(sink, answer_block(*read)) for read in _reads(source))
    tasks = ordered(_blocks(source), source, answer_block, jobs)
    return sum(_write(sink, answers) for answers in tasks)


def default_jobs() -> int:
    """How many worker processes a batch uses by default: one per CPU this process may use."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def answer_lines(lines: list[str] | list[bytes]) -> bytes:
    """The answers, one line each, to case lines (blank lines are no case and get none)."""
    text = "".join([f"{answer_line(line)}\n" for line in lines if line.strip()])
    # A lone surrogate (from a \ud800 escape) sits in a JSON string: write it back as that escape.
    return text.encode(errors="backslashreplace")


def _write(sink: BinaryIO, answers: bytes) -> int:
    if answers:
        sink.write(answers)
        sink.flush()
    return answers.count(b"\n")


def answer_block(data: bytes, last: bool = False) -> bytes:
    """answer_lines() for input as read: complete lines, or (`last`) one without its newline.

    Workers get input as bytes: the cheapest to hand over, and to split they take their share.
    Lines end at a newline alone: JSON text may hold U+2028 or a form feed raw in a string.
    """
    return answer_lines([data] if last else data.split(b"\n"))


def _blocks(source: int) -> Iterator[tuple[bytes, bool]]:
    """A worker's tasks: the lines of consecutive reads while more input is ready at once, up
    to _BLOCK_READS of them (each task costs a round trip through a pipe, whatever its size)."""
    block: list[bytes] = []
    for data, last in _reads(source):
        if last:
            if block:
                yield b"".join(block), False
            yield data, True
            return
        block.append(data)
        if len(block) == _BLOCK_READS or not readable(source):
            yield b"".join(block), False
            block = []
    if block:
        yield b"".join(block), False


def _reads(source: int) -> Iterator[tuple[bytes, bool]]:
    """Complete lines as they arrive, what one read gives, so a waiting writer gets answers;
    then (True) a last line without its newline."""
    pending: list[bytes] = []
    while chunk := os.read(source, _CHUNK):
        cut = chunk.rfind(b"\n")
        if cut < 0:
            pending.append(chunk)  # a line longer than one read: keep its parts
            continue
        complete = b"".join([*pending, chunk[: cut + 1]])
        pending = [chunk[cut + 1 :]]
        yield complete, False
    rest = b"".join(pending)
    if rest.strip():
        yield rest, True
