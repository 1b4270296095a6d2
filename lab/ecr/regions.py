"""The regions ECR serves: the lab answers every one a client signs for, each its own registry.

The list is botocore's endpoint data for `ecr` in every partition, so a region AWS does not
have (a typo, `mars-north-9`) is refused at the signature, as AWS refuses it.
"""

from __future__ import annotations

from functools import cache

from lab.botocore_session import isolated_session


@cache
def ecr_regions() -> frozenset[str]:
    """Every region botocore knows ECR in (all partitions)."""
    session = isolated_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ecr", partition_name=partition)
    )


def is_ecr_region(region: str) -> bool:
    """Whether ECR exists in `region`."""
    return region in ecr_regions()
