"""The one settings object, built once at the edge (the CLI, the dashboard) and passed in.

Sources, highest priority first: keyword arguments, environment (``FEDNODE_`` prefix, ``__`` for nesting,
e.g. ``FEDNODE_DEID__OPERATOR=tag``), secrets files in ``/run/secrets``, the TOML file named by
``FEDNODE_CONFIG`` (default ``$FEDNODE_HOME/fednode.toml``), then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fednode.bundled import bundled

DEFAULT_HOME = Path("/var/lib/fednode")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EtlSettings(_Section):
    """OMOP ETL and data-quality gate."""

    vocab_dir: Path = Field(
        default_factory=lambda: bundled("omop-vocab"),
        description="Athena-layout vocabulary folder; default: the bundled OMOP vocabulary subset.",
    )
    batch_size: int = Field(5000, ge=1, description="Rows per bulk insert.")
    dq_spec_dir: Path = Field(
        default_factory=lambda: bundled("omop-spec", "dqd"), description="DQD threshold files; default: bundled."
    )
    dq_accept_file: Path | None = Field(
        None, description="Accepted, explained DQ failures (`fednode dq --accept` format); none by default."
    )


class DeidSettings(_Section):
    """Clinical-text de-identification."""

    operator: Literal["surrogate", "tag", "redact", "hmac"] = Field(
        "surrogate", description="How detected PHI is replaced."
    )
    default_language: str = Field("en", description="Language assumed when a note has none.")
    max_note_bytes: int = Field(10 * 1024 * 1024, ge=1, description="Larger notes are quarantined.")
    workers: int = Field(1, ge=1, description="Worker processes for batch de-identification.")
    secret: SecretStr | None = Field(None, description="Site secret for HMAC pseudonyms and surrogate seeds.")


class PolicySettings(_Section):
    """Site policy engine, ledger and audit."""

    policy_file: Path | None = Field(None, description="Site policy YAML; default $FEDNODE_HOME/policy.yaml.")
    checkpoint_every: int = Field(1000, ge=1, description="Sign an audit checkpoint at least every N records.")
    totp_dir: Path | None = Field(
        None,
        description="Approvers' TOTP secrets, kept apart from the site home (its volume, backups and operator); "
        "default $FEDNODE_HOME/keys/totp (development only; the site image sets /var/lib/fednode-totp).",
    )
    checkpoint_minutes: float = Field(
        10.0,
        gt=0,
        description="Sign an audit checkpoint when the last one is older than this (checked at each append); "
        "every decision record is signed at once anyway.",
    )


class FlSettings(_Section):
    """The NVFlare client/server and the built-in trainer."""

    model_dir: Path | None = Field(None, description="HF checkpoint folder; default: bundled all-MiniLM-L6-v2.")
    base_model: str | None = Field(
        None,
        description="Base checkpoint whose tokenizer and config are staged into a BYOC job's model/: 'minilm' "
        "(bundled), 'tiny' (tests) or a folder; default: model_dir, else the bundled all-MiniLM-L6-v2.",
    )
    workspace: Path | None = Field(None, description="NVFlare workspace; default $FEDNODE_HOME/nvflare.")
    check_timeout_s: float = Field(15.0, gt=0, description="Longest any NVFlare event handler may take.")
    review_window_h: float = Field(72.0, gt=0, description="How long the coordinator keeps a held job queued.")
    connect_timeout_s: float = Field(
        5.0, gt=0, description="How long `fednode study` waits for the coordinator's admin port to answer."
    )
    device: str = Field("cpu", description="torch device for training.")
    torch_threads: int = Field(
        0, ge=0, description="CPU threads torch may use for training (0: torch's default, all cores)."
    )


class TuiSettings(_Section):
    """The dashboard."""

    refresh_s: float = Field(1.0, gt=0, description="How often the job list is re-read from state.db.")


class Settings(BaseSettings):
    """Everything configurable about a fednode site or coordinator."""

    model_config = SettingsConfigDict(
        env_prefix="FEDNODE_",
        env_nested_delimiter="__",
        secrets_dir="/run/secrets" if Path("/run/secrets").is_dir() else None,
        extra="forbid",
        frozen=True,
    )

    home: Path = Field(DEFAULT_HOME, description="Site state: omop.db, state.db, keys/, quarantine/, nvflare/.")
    site_name: str = Field("site-1", description="This site's name in the federation.")
    omop_url: str | None = Field(None, description="CDM database URL; default sqlite:///$FEDNODE_HOME/omop.db.")
    log_level: str = Field("INFO", description="Logging level for the CLI and services.")
    etl: EtlSettings = EtlSettings()
    deid: DeidSettings = DeidSettings()
    policy: PolicySettings = PolicySettings()
    fl: FlSettings = FlSettings()
    tui: TuiSettings = TuiSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _toml_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, file_secret_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    # Derived paths: one place that knows the layout of FEDNODE_HOME.
    @property
    def omop_db_url(self) -> str:
        return self.omop_url or f"sqlite:///{self.home / 'omop.db'}"

    @property
    def state_db_path(self) -> Path:
        return self.home / "state.db"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def totp_dir(self) -> Path:
        """Approvers' TOTP secrets (``policy.totp_dir``; in development ``keys/totp`` under the home)."""
        return self.policy.totp_dir or self.keys_dir / "totp"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"

    @property
    def policy_path(self) -> Path:
        return self.policy.policy_file or self.home / "policy.yaml"

    @property
    def nvflare_workspace(self) -> Path:
        return self.fl.workspace or self.home / "nvflare"

    @property
    def staged_kit_dir(self) -> Path:
        """The startup kit copied where FLARE may write (``fednode site|coordinator start``)."""
        return self.home / "nvflare-kit"

    @property
    def site_local_dir(self) -> Path:
        """The staged kit's ``local/``: the compiled site files NVFlare reads."""
        return self.staged_kit_dir / "local"

    @property
    def federation_dir(self) -> Path:
        """The federation ``fednode provision`` (or the coordinator image) describes: kits and federation.json."""
        return self.home / "federation"

    @property
    def reports_dir(self) -> Path:
        """The latest ETL, DQ and de-identification run reports (counts and reasons only)."""
        return self.home / "reports"

    @property
    def exports_dir(self) -> Path:
        """Audit exports written from the dashboard."""
        return self.home / "exports"


def _toml_path() -> Path | None:
    """The TOML file to read, if any. Read here, at the edge, and nowhere deeper."""
    explicit = os.environ.get("FEDNODE_CONFIG")
    if explicit:
        return Path(explicit)
    home = Path(os.environ.get("FEDNODE_HOME", str(DEFAULT_HOME)))
    candidate = home / "fednode.toml"
    return candidate if candidate.is_file() else None


def load_settings(**overrides: object) -> Settings:
    """Build the settings once; callers pass the result down."""
    return Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings accepts field overrides
