"""Render a CloudFormation template offline, as CloudFormation would for given parameters.

Enough of the intrinsic functions for ``deploy/template.yaml``: ``Ref``, ``Fn::Sub``,
``Fn::GetAtt``, ``Fn::If`` with the condition functions, ``Fn::Join``, ``Fn::Select``,
``Fn::Split`` and ``Fn::Base64`` (left decoded, to be read). A function it does not know
fails loudly, so a new one in the template cannot pass unread.

Pseudo parameters render as the placeholders of ``config/iam/*.json`` (``REGION``,
``ACCOUNT_ID``), and a DynamoDB table's ``Ref`` and ``Arn`` as its name and ARN, so that
a rendered policy can be compared with those files. Other resources render as
``<Name>`` or ``<Name.Attribute>``.

>>> template = {"Parameters": {"Who": {"Default": "world"}}, "Resources": {}}
>>> Renderer(template).render({"Fn::Sub": "hello ${Who} in ${AWS::Region}"})
'hello world in REGION'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

PSEUDO = {
    "AWS::Region": "REGION",
    "AWS::AccountId": "ACCOUNT_ID",
    "AWS::Partition": "aws",
    "AWS::StackName": "STACK",
    "AWS::URLSuffix": "amazonaws.com",
}


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB = re.compile(r"\$\{([^}]+)\}")


def load(path: Path) -> dict[str, Any]:
    """The template as plain data (short-form tags such as ``!Sub`` become ``Fn::Sub``)."""
    template, problems = decode(str(path))
    assert not problems, problems
    return _plain(template)


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    return node


class Renderer:
    """Renders values of ``template`` for ``parameters`` (the rest take their defaults)."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str] = {}) -> None:
        self.template = template
        self.parameters = {
            name: str(spec["Default"])
            for name, spec in template.get("Parameters", {}).items()
            if "Default" in spec
        }
        unknown = set(parameters) - set(template.get("Parameters", {}))
        assert not unknown, f"the template has no parameters {unknown}"
        self.parameters.update(parameters)

    def condition(self, name: str) -> bool:
        return bool(self.render(self.template["Conditions"][name]))

    def render(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.render(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._function(key, arg)
        rendered = {key: self.render(item) for key, item in value.items()}
        return {key: item for key, item in rendered.items() if item is not NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "Ref":
            return self._ref(arg)
        if name == "Condition":
            return self.condition(arg)
        if name == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            values = {key: self.render(item) for key, item in names.items()}
            return _SUB.sub(lambda m: self._sub(m.group(1), values), text)
        if name == "Fn::GetAtt":
            resource, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self._attribute(resource, attribute)
        if name == "Fn::If":
            condition, then, otherwise = arg
            return self.render(then if self.condition(condition) else otherwise)
        simple = {
            "Fn::Equals": lambda a: a[0] == a[1],
            "Fn::Not": lambda a: not a[0],
            "Fn::And": all,
            "Fn::Or": any,
            "Fn::Join": lambda a: a[0].join(str(item) for item in a[1]),
            "Fn::Select": lambda a: a[1][int(a[0])],
            "Fn::Split": lambda a: a[1].split(a[0]),
            "Fn::Base64": lambda a: a,
        }
        if name not in simple:
            raise NotImplementedError(f"{name} is not rendered here; teach tests/support/cfn.py")
        return simple[name](self.render(arg))

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.template["Resources"][name]
        if resource["Type"] == "AWS::DynamoDB::Table":
            return resource["Properties"]["TableName"]
        return f"<{name}>"

    def _attribute(self, name: str, attribute: str) -> str:
        resource = self.template["Resources"][name]
        if resource["Type"] == "AWS::DynamoDB::Table" and attribute == "Arn":
            table = resource["Properties"]["TableName"]
            return f"arn:aws:dynamodb:REGION:ACCOUNT_ID:table/{table}"
        return f"<{name}.{attribute}>"

    def _sub(self, name: str, values: Mapping[str, Any]) -> str:
        if name.startswith("!"):  # ${!Literal} is written as ${Literal}
            return "${" + name[1:] + "}"
        if name in values:
            return str(values[name])
        if "." in name:
            return self._attribute(*name.split(".", 1))
        return str(self._ref(name))
