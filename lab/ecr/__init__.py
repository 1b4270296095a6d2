"""Amazon ECR's state and operations as plain Python: repositories, images, layers, policies."""
