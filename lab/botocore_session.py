"""botocore sessions that read none of the user's AWS configuration.

botocore reads AWS_* variables (AWS_PROFILE, AWS_ENDPOINT_URL, AWS_DATA_PATH, ...),
~/.aws/config, ~/.aws/credentials and ~/.aws/models: a profile that does not exist stops a
session from starting, and an endpoint, a data path or a model there would redirect or change
the lab. The lab names everything it needs (endpoint, region, keys), so its sessions read
none of that. One loader serves every session: each service model loads once.
"""

from __future__ import annotations

import copy
import threading
from functools import cache, lru_cache
from os import devnull

import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.configprovider import (
    BOTOCORE_DEFAUT_SESSION_VARIABLES,
    DEFAULT_PROXIES_CONFIG_VARS,
    DEFAULT_S3_CONFIG_VARS,
    ConfigChainFactory,
    ConfigValueStore,
    SectionConfigProvider,
)
from botocore.credentials import CredentialResolver
from botocore.hooks import HierarchicalEmitter
from botocore.loaders import Loader
from botocore.model import ServiceModel

# botocore's settings with their defaults, but no ~/.aws file, and never AWS_ENDPOINT_URL*.
_SETTINGS = BOTOCORE_DEFAUT_SESSION_VARIABLES | {
    "config_file": (None, None, devnull, None),
    "credentials_file": (None, None, devnull, None),
    "ignore_configured_endpoint_urls": (None, None, True, None),
}
_LOCK = threading.Lock()  # botocore sessions and their shared loader are not thread-safe


def isolated_session() -> botocore.session.Session:
    """A new botocore session with botocore's defaults and none of the user's configuration."""
    session = botocore.session.Session(
        event_hooks=copy.copy(_builtin_events()), include_builtin_handlers=False
    )
    session.register_component("config_store", _config_store(session))
    session.register_component("credential_provider", CredentialResolver(providers=[]))
    session.register_component("data_loader", shared_loader())
    return session


def _config_store(session: botocore.session.Session) -> ConfigValueStore:
    """botocore's own settings (as `create_botocore_default_config_mapping` lays them out),
    each read from an empty environment and an empty config file."""
    chains = ConfigChainFactory(session=session, environ={})

    def mapping(variables: dict) -> dict:
        return {
            name: chains.create_config_chain(
                instance_name=name,
                env_var_names=env,
                config_property_names=config,
                default=default,
                conversion_func=cast,
            )
            for name, (config, env, default, cast) in variables.items()
        }

    settings = mapping(_SETTINGS)
    for section, variables in (
        ("s3", DEFAULT_S3_CONFIG_VARS),
        ("proxies_config", DEFAULT_PROXIES_CONFIG_VARS),
    ):
        settings[section] = SectionConfigProvider(section, session, mapping(variables))
    return ConfigValueStore(mapping=settings)


@cache
def shared_loader() -> Loader:
    """One loader of botocore's own models (never ~/.aws/models or AWS_DATA_PATH)."""
    return Loader(extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False)


@cache
def _builtin_events() -> HierarchicalEmitter:
    """botocore's built-in event handlers, registered once (~40 ms per session) then copied."""
    events = HierarchicalEmitter()
    botocore.session.Session(event_hooks=events)  # reads no setting: it only registers
    return events


@cache
def _client_session() -> botocore.session.Session:
    return isolated_session()


def create_client(
    service: str,
    *,
    region: str,
    endpoint_url: str | None,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None = None,
    config: Config | None = None,
) -> BaseClient:
    """A new botocore client; every setting it uses is one of these arguments or a default."""
    with _LOCK:
        return _client_session().create_client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            config=config,
        )


@lru_cache(maxsize=64)
def shared_client(
    service: str,
    region: str,
    endpoint_url: str,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None = None,
) -> BaseClient:
    """`create_client`, kept and reused for the same arguments (a client costs ~20 ms)."""
    return create_client(
        service,
        region=region,
        endpoint_url=endpoint_url,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        session_token=session_token,
    )


@cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of `service`'s API, loaded once."""
    with _LOCK:
        return _client_session().get_service_model(service)
