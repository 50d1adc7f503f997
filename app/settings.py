"""The one place configuration is read: environment variables prefixed `LEADNURTURE_`."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")
DEV_SECRET_FILE = VAR_DIR / "secret_key"


def _dev_secret_key() -> str:
    """A development secret generated once and kept under ./var so links survive restarts."""
    if DEV_SECRET_FILE.exists():
        return DEV_SECRET_FILE.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    DEV_SECRET_FILE.write_text(key)
    DEV_SECRET_FILE.chmod(0o600)
    return key


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADNURTURE_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = f"sqlite:///{VAR_DIR}/leadnurture.db"
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str = ""
    outbox_dir: Path = VAR_DIR / "outbox"
    email_from: str = "Leadnurture <marketing@example.com>"
    postal_address: str = "Leadnurture Inc., 1 Example Street, Springfield"
    tick_seconds: float = Field(default=5.0, gt=0)
    bootstrap_api_key: str = ""
    log_level: str = "INFO"
    sal_sla_hours: float = Field(default=4.0, gt=0)
    # Body size cap for public endpoints (capture, beacon): a form post is a few KiB.
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    # Per-IP budget for public endpoints, requests per minute.
    public_rate_limit_per_minute: int = Field(default=120, gt=0)
    db_pool_size: int = Field(default=10, gt=0)
    # Form captures handled at once per process (more wait their turn, not the GIL's).
    capture_threads: int = Field(default=4, gt=0)
    run_scheduler: bool = True
    # Communication limits across all sequences (SPEC §6); over them a send is deferred.
    max_marketing_emails_per_day: int = Field(default=1, gt=0)
    max_marketing_emails_per_week: int = Field(default=3, gt=0)
    # Global throttle of marketing email per minute (off: None).
    max_emails_per_minute: int | None = Field(default=None, gt=0)
    dispatch_batch_size: int = Field(default=200, gt=0)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # An endpoint is switched off after this many deliveries in a row went dead.
    webhook_disable_after: int = Field(default=5, gt=0)
    # Raw submissions and event details older than this many days are purged (off: None).
    retention_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _secret_key_rules(self) -> Settings:
        if self.env == "production" and not self.secret_key:
            raise ValueError("LEADNURTURE_SECRET_KEY must be set in production mode")
        if not self.secret_key:
            self.secret_key = _dev_secret_key()
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.env == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
