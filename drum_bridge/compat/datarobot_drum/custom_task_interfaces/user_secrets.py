"""User secrets: credentials a custom task receives as ``self.secrets[name]``.

Each secret is a JSON object with a ``credential_type`` and that type's fields, read from
the files of ``--user-secrets-mount-path`` (the file name is the secret's name) and from
the environment variables ``<--user-secrets-prefix>_<NAME>`` (a file wins over a variable
of the same name).  Once loaded, their values are masked (``*****``) in what the process
writes to stdout, stderr and the logs.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO, TypeVar

__all__ = [
    "AbstractSecret",
    "AdlsGen2OauthSecret",
    "ApiTokenSecret",
    "AzureSecret",
    "AzureServicePrincipalSecret",
    "BasicSecret",
    "DatabricksAccessTokenAccountSecret",
    "GCPKey",
    "GCPSecret",
    "OauthSecret",
    "S3Secret",
    "SecretType",
    "SnowflakeKeyPairUserAccountSecret",
    "SnowflakeOauthUserAccountSecret",
    "TableauAccessTokenSecret",
    "UnsupportedSecretError",
    "load_secrets",
    "patch_outputs_to_scrub_secrets",
    "reset_outputs_to_allow_secrets",
    "secrets_factory",
]

MASK = "*****"
T = TypeVar("T", bound="_Masked")


class UnsupportedSecretError(Exception):
    pass


@dataclasses.dataclass(repr=False)
class _Masked:
    """A record whose repr masks every string field."""

    def __repr__(self) -> str:
        shown = (
            f"{f.name}={MASK if isinstance(getattr(self, f.name), str) else getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
        )
        return f"{type(self).__name__}({', '.join(shown)})"

    @classmethod
    def from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
        """The record of ``values``' known keys; others are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclasses.dataclass(repr=False)
class AbstractSecret(_Masked):
    def is_partial_secret(self) -> bool:
        """Whether part of this credential (an admin-owned configuration) is not included."""
        return any(getattr(self, key, None) for key in ("config_id", "oauth_config_id"))


@dataclasses.dataclass(repr=False)
class BasicSecret(AbstractSecret):
    username: str
    password: str
    snowflake_account_name: str | None = None


@dataclasses.dataclass(repr=False)
class OauthSecret(AbstractSecret):
    token: str
    refresh_token: str


@dataclasses.dataclass(repr=False)
class S3Secret(AbstractSecret):
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    config_id: str | None = None


@dataclasses.dataclass(repr=False)
class AzureSecret(AbstractSecret):
    azure_connection_string: str


@dataclasses.dataclass(repr=False)
class AzureServicePrincipalSecret(AbstractSecret):
    client_id: str
    client_secret: str
    azure_tenant_id: str


@dataclasses.dataclass(repr=False)
class SnowflakeOauthUserAccountSecret(AbstractSecret):
    client_id: str | None
    client_secret: str | None
    snowflake_account_name: str | None
    oauth_issuer_type: str | None = None
    oauth_issuer_url: str | None = None
    oauth_scopes: str | None = None
    oauth_config_id: str | None = None


@dataclasses.dataclass(repr=False)
class SnowflakeKeyPairUserAccountSecret(AbstractSecret):
    username: str | None
    private_key_str: str | None
    passphrase: str | None = None
    config_id: str | None = None


@dataclasses.dataclass(repr=False)
class AdlsGen2OauthSecret(AbstractSecret):
    client_id: str
    client_secret: str
    oauth_scopes: str


@dataclasses.dataclass(repr=False)
class TableauAccessTokenSecret(AbstractSecret):
    token_name: str
    personal_access_token: str


@dataclasses.dataclass(repr=False)
class DatabricksAccessTokenAccountSecret(AbstractSecret):
    databricks_access_token: str


@dataclasses.dataclass(repr=False)
class ApiTokenSecret(AbstractSecret):
    api_token: str


@dataclasses.dataclass(repr=False)
class GCPKey(_Masked):
    type: str
    project_id: str | None = None
    private_key_id: str | None = None
    private_key: str | None = None
    client_email: str | None = None
    client_id: str | None = None
    auth_uri: str | None = None
    token_uri: str | None = None
    auth_provider_x509_cert_url: str | None = None
    client_x509_cert_url: str | None = None


@dataclasses.dataclass(repr=False)
class GCPSecret(AbstractSecret):
    gcp_key: GCPKey | None = None
    config_id: str | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GCPSecret:
        key = values.get("gcp_key")
        return cls(
            gcp_key=GCPKey.from_dict(key) if isinstance(key, Mapping) else key,
            config_id=values.get("config_id"),
        )


class SecretType(enum.Enum):
    """A ``credential_type`` (any case) and its record."""

    BASIC = BasicSecret
    OAUTH = OauthSecret
    GCP = GCPSecret
    S3 = S3Secret
    AZURE = AzureSecret
    AZURE_SERVICE_PRINCIPAL = AzureServicePrincipalSecret
    SNOWFLAKE_OAUTH_USER_ACCOUNT = SnowflakeOauthUserAccountSecret
    SNOWFLAKE_KEY_PAIR_USER_ACCOUNT = SnowflakeKeyPairUserAccountSecret
    ADLS_GEN2_OAUTH = AdlsGen2OauthSecret
    TABLEAU_ACCESS_TOKEN = TableauAccessTokenSecret
    DATABRICKS_ACCESS_TOKEN_ACCOUNT = DatabricksAccessTokenAccountSecret
    API_TOKEN = ApiTokenSecret

    @classmethod
    def from_string(cls, name: str) -> SecretType:
        try:
            return cls[name.upper()]
        except KeyError:
            raise UnsupportedSecretError(f"Unsupported secret type: {name!r}") from None

    def get_secret_class(self) -> type[AbstractSecret]:
        secret_class: type[AbstractSecret] = self.value
        return secret_class


def secrets_factory(values: Mapping[str, Any]) -> AbstractSecret:
    """The secret record for one JSON object; raises ``UnsupportedSecretError``."""
    return SecretType.from_string(values["credential_type"]).get_secret_class().from_dict(values)


def load_secrets(mount_path: str | None, env_var_prefix: str | None) -> dict[str, AbstractSecret]:
    """Every secret from the mounted files and the prefixed environment variables."""
    found: dict[str, Any] = {}
    if env_var_prefix:
        prefix = f"{env_var_prefix}_"
        for name, value in os.environ.items():
            if name.startswith(prefix):
                found[name[len(prefix):]] = json.loads(value)
    if mount_path is not None:
        for path in sorted(Path(mount_path).glob("*")):
            if path.is_file():
                found[path.name] = json.loads(path.read_text())
    return {name: secrets_factory(values) for name, values in found.items()}


def _strings(value: Any) -> set[str]:
    if isinstance(value, Mapping):
        return set().union(*(_strings(item) for item in value.values()))
    return {value} if isinstance(value, str) and value else set()


def _sensitive_values(secrets: Iterable[AbstractSecret]) -> list[str]:
    """Every string in the secrets, longest first (so a value inside another is masked too)."""
    values: set[str] = set().union(*(_strings(dataclasses.asdict(s)) for s in secrets))
    return sorted(values, key=lambda value: (-len(value), value))


def _mask(values: list[str], text: str) -> str:
    for value in values:
        text = text.replace(value, MASK)
    return text


class _MaskingStream:
    """A text stream that masks the secrets in what is written to it."""

    def __init__(self, values: list[str], stream: TextIO) -> None:
        self.stream = stream
        self.values = values

    def write(self, text: str) -> int:
        return self.stream.write(_mask(self.values, text))

    def writelines(self, lines: Iterable[str]) -> None:
        self.stream.writelines(_mask(self.values, line) for line in lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _MaskingFilter(logging.Filter):
    """Masks the secrets in a log record's message and arguments."""

    def __init__(self, values: list[str]) -> None:
        super().__init__()
        self.values = values

    def _masked(self, value: Any) -> Any:
        return _mask(self.values, value) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._masked(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: self._masked(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(self._masked(value) for value in record.args)
        return True


def _loggers_and_handlers() -> list[logging.Filterer]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    return [*loggers, *(handler for lg in loggers for handler in lg.handlers)]


def patch_outputs_to_scrub_secrets(secrets: Iterable[AbstractSecret]) -> None:
    """Mask the secrets' values in stdout, stderr and every logger's output from now on."""
    values = _sensitive_values(secrets)
    if not values:
        return
    reset_outputs_to_allow_secrets()
    sys.stdout = _MaskingStream(values, sys.stdout)
    sys.stderr = _MaskingStream(values, sys.stderr)
    masking = _MaskingFilter(values)
    for filterer in _loggers_and_handlers():
        filterer.addFilter(masking)


def reset_outputs_to_allow_secrets() -> None:
    """Undo ``patch_outputs_to_scrub_secrets``."""
    if isinstance(sys.stdout, _MaskingStream):
        sys.stdout = sys.stdout.stream
    if isinstance(sys.stderr, _MaskingStream):
        sys.stderr = sys.stderr.stream
    for filterer in _loggers_and_handlers():
        for masking in [f for f in filterer.filters if isinstance(f, _MaskingFilter)]:
            filterer.removeFilter(masking)
