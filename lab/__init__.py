"""ecr-lab: Amazon ECR repository policies, offline and faithful to AWS."""

__version__ = "0.1.0"
