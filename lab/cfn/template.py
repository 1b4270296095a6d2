"""CloudFormation templates: YAML with the short-form tags, and the intrinsic functions.

Only what the tutorial's templates use, as the CloudFormation User Guide's "Intrinsic function
reference" defines it: Ref, Fn::GetAtt (also `Stack.Outputs.Name` of a nested stack), Fn::Sub,
Fn::Base64, Fn::Join. Scalars that YAML would read as dates stay strings (`2012-10-17`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

_SHORT_FORMS = {"Ref": "Ref", "GetAtt": "Fn::GetAtt", "Sub": "Fn::Sub", "Base64": "Fn::Base64"}
_SHORT_FORMS |= {"Join": "Fn::Join"}
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """A template the interpreter cannot deploy."""


class _Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver, plus CloudFormation's `!Tag` short forms."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _short_form(name: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)  # !GetAtt Resource.Attribute
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag, _name in _SHORT_FORMS.items():
    _Loader.add_constructor(f"!{_tag}", _short_form(_name))


def load_template(text: str) -> dict[str, Any]:
    """A template's YAML (or JSON) as plain data, intrinsic functions in their long form."""
    document = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError("a template is a mapping with a Resources section")
    return document


Lookup = Callable[[str], Any]  # Ref name -> value
Attribute = Callable[[str, str], Any]  # (resource, attribute) -> value


def resolve(value: Any, ref: Lookup, get_att: Attribute) -> Any:
    """`value` with every intrinsic function evaluated."""
    if isinstance(value, list):
        return [resolve(item, ref, get_att) for item in value]
    if not isinstance(value, Mapping):
        return value
    if len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return ref(argument)
        if name == "Fn::GetAtt":
            resource, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return get_att(resource, attribute)
        if name == "Fn::Sub":
            return _sub(argument, ref, get_att)
        if name == "Fn::Base64":
            text = resolve(argument, ref, get_att)
            return base64.b64encode(str(text).encode()).decode()
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(i) for i in resolve(items, ref, get_att))
        if name.startswith("Fn::"):
            raise TemplateError(f"the lab's interpreter does not support {name}")
    return {key: resolve(item, ref, get_att) for key, item in value.items()}


def _sub(argument: Any, ref: Lookup, get_att: Attribute) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    values = {k: resolve(v, ref, get_att) for k, v in variables.items()}

    def replace(found: re.Match[str]) -> str:
        name = found.group(1)
        if name in values:
            return str(values[name])
        if "." in name and not name.startswith("AWS::"):
            return str(get_att(*name.split(".", 1)))
        return str(ref(name))

    return _SUB_VARIABLE.sub(replace, text)


def references(value: Any) -> set[str]:
    """The logical ids a value refers to (Ref, GetAtt, Sub), pseudo parameters excluded."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, Mapping):
        for name, argument in value.items():
            if name == "Ref" and isinstance(argument, str):
                found.add(argument)
            elif name == "Fn::GetAtt":
                found.add(argument[0] if isinstance(argument, list) else argument.split(".")[0])
            elif name == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                found |= {v.split(".")[0] for v in _SUB_VARIABLE.findall(text)}
                found |= references(argument)
            else:
                found |= references(argument)
    return {name for name in found if not name.startswith("AWS::")}
