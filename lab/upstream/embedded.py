"""moto in process: the lab's IAM directory without a second port.

Requests from this upstream's own clients (and forwarded ones) are answered by moto's
response dispatch (`BotocoreStubber.process_request`, the code `mock_aws` runs) from a
before-send hook registered on those clients only, so every other boto3 client in the process
still reaches its real endpoint. Every acknowledged write is journaled and replayed at start.

Stable ids: moto draws every id (AROA..., AIDA..., ANPA..., access keys) from one seedable
generator, `mock_random`. Each write runs with a fresh seed recorded in the journal; replaying
it with the same seed on the same state gives the same ids. (Creation dates do not survive a
restart: moto stamps them from the clock.)
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from botocore.awsrequest import AWSPreparedRequest, HeadersDict
from moto import backend_index
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.config import default_user_config
from moto.iam.models import AWSManagedPolicy
from moto.moto_api._internal import mock_random

from lab.errors import AwsError
from lab.upstream.base import SigningUpstream, UpstreamResponse
from lab.upstream.journal import Journal, JournalEntry, is_write, operation_name
from lab.upstream.managed_policies import (
    PARTITION,
    as_shipped,
    new_iam_backend,
    without_loading_managed_policies,
)

log = logging.getLogger(__name__)

JOURNAL_FILE = "upstream-journal.jsonl"
# moto's admin accepts any key pair; these are the lab's usual ones.
ADMIN_ACCESS_KEY = "test"
ADMIN_SECRET = "test"
# moto picks the account from this header before it looks at the access key.
_ACCOUNT_HEADER = "x-moto-account-id"
# moto's backends and its one random generator are process-wide: one request at a time.
_MOTO_LOCK = threading.RLock()


def _service_of(url: str) -> str | None:
    """The moto service whose endpoint `url` is, as moto's own dispatch finds it."""
    return next(
        (name for name, pattern in backend_index.backend_url_patterns if pattern.match(url)), None
    )


def _services(entries: Iterable[JournalEntry]) -> set[str]:
    """IAM (always there) and every other service the journal's entries went to."""
    return {"iam", *filter(None, (_service_of(entry.url) for entry in entries))}


# Services whose state another lab of this process may have left for the same account: moto
# keeps one backend per account for the whole process. Cleared only once loaded (none before).
_PROCESS_WIDE = ("organizations", "secretsmanager", "ec2")


def _loaded(services: Iterable[str]) -> set[str]:
    return {name for name in services if f"moto.{name}.models" in sys.modules}


def _body_bytes(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if hasattr(body, "read"):
        body = body.read()
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class EmbeddedMoto(SigningUpstream):
    """moto in this process, for one account, with its writes journaled under `state_dir`.

    One EmbeddedMoto per account per process: moto's state is process-global, so a new
    instance resets that account and replays its journal (which is what a restart does).
    For the same reason `mock_aws` (which resets every backend) must not run beside it.
    """

    def __init__(self, state_dir: Path, region: str, *, account: str = DEFAULT_ACCOUNT_ID) -> None:
        super().__init__(region, ADMIN_ACCESS_KEY, ADMIN_SECRET, endpoint_url=None)
        self.account = account
        self._stubber = BotocoreStubber()
        # AWS's managed policies (AmazonEC2ContainerRegistryFullAccess, ...) must be attachable.
        default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
        self._journal = Journal(Path(state_dir) / JOURNAL_FILE)
        self._replay()

    def holds(self, service: str) -> bool:
        """Whether the journal has written anything to `service` (e.g. an organization)."""
        return service in _services(self._journal.entries())

    def close(self) -> None:
        """Release the journal file."""
        self._journal.close()

    def reset(self) -> None:
        """Forget every write: the account's moto state as new and the journal emptied."""
        with _MOTO_LOCK:
            services = _services(self._journal.entries())
            self._journal.close()
            os.truncate(self._journal.path, 0)
            self._journal = Journal(self._journal.path)
            self._clear(services)

    def _replay(self) -> None:
        with _MOTO_LOCK:
            self._replay_locked()

    def _replay_locked(self) -> None:
        entries = list(self._journal.entries())
        self._clear(_services(entries) | _loaded(_PROCESS_WIDE))
        for number, entry in enumerate(entries, start=1):
            headers = HeadersDict(entry.headers)
            request = AWSPreparedRequest(entry.method, entry.url, headers, entry.body, False)
            response = self._dispatch(request, entry.seed)
            if not 200 <= response.status < 300:
                # e.g. a role two servers on one state directory both created: the state it
                # asked for is there already, and a lab that cannot start helps nobody.
                log.warning(
                    "skipped %s entry %d: replaying it failed with HTTP %d: %r",
                    self._journal.path,
                    number,
                    response.status,
                    response.body[:300],
                )

    def _clear(self, services: set[str]) -> None:
        """Drop this account's state in `services`; IAM is emptied in place, much faster."""
        for service in services:
            if service != "iam" or not self._renew_iam():
                get_backend(service).pop(self.account, None)  # type: ignore[call-overload]
        if "organizations" in services:  # moto also keeps each member's organization aside
            owners = get_backend("organizations").master_accounts  # type: ignore[attr-defined]
            for member, (master, _) in list(owners.items()):
                if master == self.account:
                    del owners[member]

    def _renew_iam(self) -> bool:
        """Empty the account's IAM but keep AWS's managed policies (loading them takes ~0.3 s).

        False when there is nothing to keep: no backend yet, a stand-in without them, or a
        client changed a managed policy (moto lets clients tag or version them; AWS does not).
        """
        regions = dict.get(get_backend("iam"), self.account)  # dict.get: creates nothing
        only = regions is not None and len(regions) == 1
        backend = dict.get(regions, PARTITION) if only else None
        kept = backend.aws_managed_policies if backend is not None else []
        if not kept or not all(map(as_shipped, kept)):
            return False
        by_arn = {
            arn: policy
            for arn, policy in backend.managed_policies.items()
            if isinstance(policy, AWSManagedPolicy)  # computing ARNs anew costs ~15 ms
        }
        with without_loading_managed_policies():
            backend.reset()  # moto's own reset: a new IAMBackend in the same object
        for policy in kept:
            policy.attachment_count = 0
        backend.aws_managed_policies = kept
        backend.managed_policies = by_arn
        return True

    def _send(self, request: AWSPreparedRequest) -> UpstreamResponse:
        body = _body_bytes(request)
        request.body = body
        seed = secrets.randbits(63)
        headers = {name: _text(value) for name, value in request.headers.items()}
        with _MOTO_LOCK:
            response = self._dispatch(request, seed)
            if 200 <= response.status < 300 and is_write(
                request.method, operation_name(request.url, headers, body)
            ):
                entry = JournalEntry(
                    request.method, request.url, tuple(headers.items()), body, seed
                )
                self._journal.append(entry)
        return response

    def _dispatch(self, request: AWSPreparedRequest, seed: int) -> UpstreamResponse:
        """Run one request through moto with `mock_random` seeded, leaving its state as found."""
        service = _service_of(request.url.split("?", 1)[0])
        if service is None:
            raise AwsError("ServiceUnavailable", f"embedded moto serves no endpoint {request.url}")
        request.headers[_ACCOUNT_HEADER] = self.account
        with _MOTO_LOCK:
            self._ensure_backend(service)
            saved = mock_random.getstate()
            mock_random.seed(seed)
            try:
                answer = self._stubber.process_request(request)
            finally:
                mock_random.setstate(saved)
        if answer is None:
            raise AwsError("ServiceUnavailable", f"embedded moto serves no endpoint {request.url}")
        status, headers, body = answer
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        pairs = [(str(name), str(value)) for name, value in headers.items() if name != "status"]
        return UpstreamResponse(int(status), pairs, raw)

    def _ensure_backend(self, service: str) -> None:
        """Create the backends outside the seeded section: their set-up draws random numbers too.
        IAM for every service: moto's dispatch of any call (EC2's too) builds it when missing."""
        self._ensure_iam()
        if service == "iam":
            return
        backends = get_backend(service)[self.account]  # type: ignore[call-overload]
        backends[self.region if self.region in backends else "global"]

    def _ensure_iam(self) -> None:
        """This account's IAM, and the IAM of account 123456789012, whose URL table moto's
        dispatch reads (creating it, managed policies and all, when missing): for another
        account's lab a stand-in without them does, which that account's own lab replaces."""
        iam = get_backend("iam")
        default = iam[DEFAULT_ACCOUNT_ID]
        if self.account != DEFAULT_ACCOUNT_ID and dict.get(default, PARTITION) is None:
            new_iam_backend(default, with_policies=False)
        own = dict.get(iam[self.account], PARTITION)  # dict.get: creates nothing
        if own is None or not own.aws_managed_policies:  # none yet, or a stand-in
            new_iam_backend(iam[self.account])
