"""The registry's route table as data, and the one map from (route, method) to ECR's IAM action.

Paths follow the Docker Registry HTTP API v2 (distribution's registry/api/v2/descriptors.go);
actions are ECR's (FACTS: "Registry protocol"; AWS's "Amazon ECR repository policies" page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from lab.registry.errors import RegistryError

# distribution's reference grammar (reference/regexp.go): path components, tags, digests.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
NAME = rf"{_COMPONENT}(?:/{_COMPONENT})*"
TAG = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"  # ASCII: Python's \w is Unicode
DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_UPLOAD_ID = r"[a-zA-Z0-9-_.=]+"


@dataclass(frozen=True)
class RouteSpec:
    """One entry of the table: a name, a path pattern, and the IAM action of each method."""

    name: str
    pattern: re.Pattern[str]
    actions: dict[str, str | None]  # method -> ECR IAM action (None: authentication only)


def _spec(name: str, path: str, actions: dict[str, str | None]) -> RouteSpec:
    return RouteSpec(name, re.compile(rf"^/v2/{path}$"), actions)


# The table. More specific paths first: `blobs/uploads/` before `blobs/<digest>`.
ROUTES: tuple[RouteSpec, ...] = (
    _spec("base", "", {"GET": None, "HEAD": None}),
    _spec("tags", rf"(?P<repository>{NAME})/tags/list", {"GET": "ecr:ListImages"}),
    _spec(
        "manifest",
        rf"(?P<repository>{NAME})/manifests/(?P<reference>{TAG}|{DIGEST})",
        {
            "GET": "ecr:BatchGetImage",
            "HEAD": "ecr:BatchGetImage",
            "PUT": "ecr:PutImage",
            "DELETE": "ecr:BatchDeleteImage",
        },
    ),
    _spec(
        "upload_start",
        rf"(?P<repository>{NAME})/blobs/uploads/",
        {"POST": "ecr:InitiateLayerUpload"},
    ),
    _spec(
        "upload",
        rf"(?P<repository>{NAME})/blobs/uploads/(?P<upload_id>{_UPLOAD_ID})",
        {
            "PATCH": "ecr:UploadLayerPart",
            "PUT": "ecr:CompleteLayerUpload",
            # Status and cancel belong to the part-upload step; AWS documents no own action.
            "GET": "ecr:UploadLayerPart",
            "DELETE": "ecr:UploadLayerPart",
        },
    ),
    # OCI 1.1 referrers (distribution-spec, "Listing Referrers"); read as ListImageReferrers
    # is, with ecr:BatchGetImage (API reference). Any digest text: a malformed one is a 400.
    _spec(
        "referrers",
        rf"(?P<repository>{NAME})/referrers/(?P<digest>[^/]+)",
        {"GET": "ecr:BatchGetImage"},
    ),
    _spec(
        "blob",
        rf"(?P<repository>{NAME})/blobs/(?P<digest>{DIGEST})",
        {"GET": "ecr:GetDownloadUrlForLayer", "HEAD": "ecr:BatchCheckLayerAvailability"},
    ),
)


@dataclass(frozen=True)
class Route:
    """A matched request: which route, on which repository, and the IAM action it needs."""

    name: str
    method: str
    action: str | None
    repository: str | None = None
    reference: str | None = None  # manifests: a tag or a digest
    digest: str | None = None  # blobs
    upload_id: str | None = None
    query: dict[str, str] = field(default_factory=dict)

    @property
    def by_digest(self) -> bool:
        """True when a manifest reference is a digest rather than a tag."""
        return self.reference is not None and ":" in self.reference


def action_for(name: str, method: str) -> str | None:
    """ECR's IAM action for `method` on route `name` (KeyError for an unknown pair)."""
    spec = next(spec for spec in ROUTES if spec.name == name)
    return spec.actions[method]


def match(method: str, raw_path: str, query: str = "") -> Route:
    """The route of a `/v2/` request; RegistryError NOT_FOUND (404) or UNSUPPORTED (405)."""
    path = unquote(raw_path)
    for spec in ROUTES:
        found = spec.pattern.match(path)
        if found is None:
            continue
        if method not in spec.actions:
            raise RegistryError("UNSUPPORTED", detail={"method": method, "route": spec.name})
        params = found.groupdict()
        return Route(
            name=spec.name,
            method=method,
            action=spec.actions[method],
            repository=params.get("repository"),
            reference=params.get("reference"),
            digest=params.get("digest"),
            upload_id=params.get("upload_id"),
            query=dict(parse_qsl(query, keep_blank_values=True)),
        )
    raise RegistryError("NOT_FOUND")
