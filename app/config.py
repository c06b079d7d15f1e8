"""Settings, read once from the environment and validated.

Every variable is documented in README.md and .env.example. A bad value raises
ConfigError with one line that run.py prints instead of a traceback.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Mapping

from pymongo.errors import ConfigurationError, InvalidURI
from pymongo.uri_parser import parse_uri


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


APP_ENVS = ("development", "production")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    app_env: str = "development"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    secret_key_generated: bool = False
    mongodb_uri: str | None = None
    mongodb_db: str = "support"
    allowed_origins: tuple[str, ...] = ()
    admin_email: str | None = None
    admin_password: str | None = None
    seed_demo: bool = True
    bcrypt_rounds: int = 12
    session_hours: int = 12
    guest_cookie_days: int = 180
    log_level: str = "INFO"
    redis_url: str | None = None
    ws_compression: bool = False

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def embedded_db(self) -> bool:
        return not self.mongodb_uri

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        app_env = (get("APP_ENV") or "development").lower()
        if app_env not in APP_ENVS:
            raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)}, not {app_env!r}")

        port_raw = get("PORT") or "8080"
        try:
            port = int(port_raw)
        except ValueError:
            raise ConfigError(f"PORT must be a number, not {port_raw!r}") from None
        if not 0 < port < 65536:
            raise ConfigError(f"PORT must be between 1 and 65535, not {port}")

        secret_key = get("SECRET_KEY")
        generated = False
        if secret_key is None:
            if app_env == "production":
                raise ConfigError("SECRET_KEY is required when APP_ENV=production")
            secret_key, generated = secrets.token_urlsafe(32), True
        elif len(secret_key) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters long")

        mongodb_uri = get("MONGODB_URI")
        mongodb_db = get("MONGODB_DB") or "support"
        if mongodb_uri:
            try:
                parsed = parse_uri(mongodb_uri)
            except (InvalidURI, ConfigurationError, ValueError) as exc:
                raise ConfigError(f"MONGODB_URI is malformed: {exc}") from None
            mongodb_db = get("MONGODB_DB") or parsed.get("database") or "support"

        origins = tuple(
            o.strip().rstrip("/") for o in (get("ALLOWED_ORIGINS") or "").split(",") if o.strip()
        )
        for origin in origins:
            if not origin.startswith(("http://", "https://")):
                raise ConfigError(f"ALLOWED_ORIGINS entries must start with http(s)://: {origin!r}")

        admin_email, admin_password = get("ADMIN_EMAIL"), get("ADMIN_PASSWORD")
        if bool(admin_email) != bool(admin_password):
            raise ConfigError("ADMIN_EMAIL and ADMIN_PASSWORD must be set together")
        if admin_password and len(admin_password) < 8:
            raise ConfigError("ADMIN_PASSWORD must be at least 8 characters long")

        redis_url = get("REDIS_URL")
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://: {redis_url!r}")

        ws_compression_raw = (get("WS_COMPRESSION") or "0").lower()
        if ws_compression_raw not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"WS_COMPRESSION must be 0 or 1, not {ws_compression_raw!r}")

        return cls(
            host=get("HOST") or "127.0.0.1",
            port=port,
            app_env=app_env,
            secret_key=secret_key,
            secret_key_generated=generated,
            mongodb_uri=mongodb_uri,
            mongodb_db=mongodb_db,
            allowed_origins=origins,
            admin_email=admin_email.lower() if admin_email else None,
            admin_password=admin_password,
            seed_demo=not mongodb_uri,
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
            redis_url=redis_url,
            ws_compression=ws_compression_raw in ("1", "true", "yes", "on"),
        )
