"""Policy lint: findings in the manner of IAM Access Analyzer's policy validation, for ECR.

positions (where each element sits in the text) -> checks (one function per finding) ->
findings (the Access Analyzer shape) -> cli (`ecr-lab lint`).
"""
