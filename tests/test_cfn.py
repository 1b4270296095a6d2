"""deploy-cfn: the template language it reads, and the tutorial's stacks reaching the matrix."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lab.cfn.cli import TUTORIAL_TEMPLATE
from lab.cfn.stack import _creation_order, generated_name, template_location
from lab.cfn.template import TemplateError, load_template, references, resolve

CFN = TUTORIAL_TEMPLATE.parent


def test_short_forms_become_long_forms_and_dates_stay_strings() -> None:
    template = load_template(
        "Resources:\n  R:\n    Type: X\n    Properties:\n"
        "      A: !GetAtt Stack.Outputs.Arn\n      B: !Ref P\n      V: 2012-10-17\n"
    )
    props = template["Resources"]["R"]["Properties"]
    assert props == {
        "A": {"Fn::GetAtt": ["Stack", "Outputs.Arn"]},
        "B": {"Ref": "P"},
        "V": "2012-10-17",
    }


def test_resolve_ref_getatt_sub_base64() -> None:
    values = {"Prefix": "fa-085", "AWS::Region": "ap-northeast-1"}
    attributes = {("EC2Stack", "Outputs.InstanceRoleArn1"): "arn:aws:iam::1:role/r1"}
    value = {
        "url": {"Fn::Sub": "https://b.s3.${AWS::Region}.amazonaws.com/${Prefix}/x.yaml"},
        "arn": {"Fn::GetAtt": ["EC2Stack", "Outputs.InstanceRoleArn1"]},
        "data": {"Fn::Base64": "#!/bin/bash\n"},
        "list": [{"Ref": "Prefix"}],
    }
    assert resolve(value, values.__getitem__, lambda r, a: attributes[(r, a)]) == {
        "url": "https://b.s3.ap-northeast-1.amazonaws.com/fa-085/x.yaml",
        "arn": "arn:aws:iam::1:role/r1",
        "data": base64.b64encode(b"#!/bin/bash\n").decode(),
        "list": ["fa-085"],
    }


def test_an_unsupported_function_is_refused() -> None:
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        resolve({"Fn::ImportValue": "x"}, str, lambda r, a: None)


def test_creation_order_follows_references_and_depends_on() -> None:
    resources = load_template((CFN / "fa-085.yaml").read_text())["Resources"]
    assert _creation_order(resources) == ["VPCStack", "EC2Stack", "ECRStack"]
    ec2 = load_template((CFN / "fa-085-ec2.yaml").read_text())["Resources"]
    order = _creation_order(ec2)
    assert order.index("InstanceRole1") < order.index("InstanceProfile1") < order.index("Instance1")
    assert references(ec2["Instance1"]["Properties"]) >= {"InstanceProfile1", "ImageId"}


def test_template_urls_and_generated_names() -> None:
    url = "https://awstut-bucket.s3.ap-northeast-1.amazonaws.com/fa-085/fa-085-ec2.yaml"
    assert template_location(url) == ("awstut-bucket", "fa-085/fa-085-ec2.yaml")
    assert template_location("https://s3.amazonaws.com/b/k.yaml") == ("b", "k.yaml")
    name = generated_name("fa-085-EC2Stack-16BBODB5DWYO1", "InstanceRole1")
    assert name.startswith("fa-085-EC2Stack-16BBODB5DWYO1-InstanceRole1-") and len(name) <= 64


@pytest.mark.slow
def test_the_cloudformation_path_reaches_the_tutorials_matrix(tmp_path: Path) -> None:
    from lab.cfn.stack import StackDeployer
    from lab.scenario.clients import ProtocolDriver
    from lab.scenario.demo import DemoRun, lab_config
    from lab.scenario.locate import load
    from lab.server.run import RunningLab

    scenario = load("fa-085")
    with RunningLab(lab_config(scenario, tmp_path / "state")) as running:
        lab = running.lab
        deployer = StackDeployer(lab, CFN, progress=lambda _: None)
        outputs = deployer.deploy("fa-085", (CFN / "fa-085.yaml").read_text(), {})
        assert outputs == {}
        by_id = {r.logical_id: r for r in deployer.resources}
        # What moto's CloudFormation drops, here in place: managed policies and the policy.
        iam = lab.upstream.client("iam")
        role = by_id["InstanceRole1"].physical_id
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert {p["PolicyName"] for p in attached} == {
            "AmazonSSMManagedInstanceCore",
            "AmazonEC2ContainerRegistryFullAccess",
        }
        region, account = lab.config.region, lab.config.account
        policy = json.loads(lab.ecr.repository_policy(account, region, "fa-085") or "{}")
        assert (
            policy["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
            == (by_id["InstanceRole1"].attributes["Arn"])
        )
        assert by_id["Instance1"].attributes["ImageId"].startswith("ami-")  # from SSM
        assert sorted(lab.instances) == ["instance1", "instance2", "instance3"]
        checks = DemoRun(lab, scenario, ProtocolDriver("fa-085"), lambda _: None).run()
    wrong = [(c.principal, c.operation, c.actual) for c in checks if c.actual != c.expected]
    assert wrong == []
