"""`ecr-lab deploy-cfn`: the tutorial's CloudFormation, deployed onto the lab.

A small interpreter of its own rather than moto's CloudFormation: moto fails on a nested
stack's `GetAtt Stack.Outputs.X` and drops RepositoryPolicyText and ManagedPolicyArns (FACTS),
while each resource here is created through the lab's own APIs, as CloudFormation would call
them. template (YAML, intrinsic functions) -> resources (one handler per type) -> stack.
"""
