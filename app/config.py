"""Settings, read once from the environment and validated.

Every variable is documented in README.md and .env.example. A bad value raises
ConfigError with one line that run.py prints instead of a traceback.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from pymongo.errors import ConfigurationError, InvalidURI
from pymongo.uri_parser import parse_uri


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


APP_ENVS = ("development", "production")
ASSIGNMENTS = ("manual", "round_robin")


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
    # Trust and hardening (issue #4).
    trust_proxy: bool = False
    widget_allowed_origins: tuple[str, ...] = ()
    rate_login_per_ip: str = "10/10 minutes"
    rate_login_per_email: str = "5/10 minutes"
    rate_chat_start_per_guest: str = "10/hour"
    rate_chat_start_per_ip: str = "30/hour"
    rate_messages_per_ticket: str = "30/minute"
    rate_typing: str = "5/second"
    rate_api_token: str = "600/minute"
    # Background jobs (app/jobs): the in-server worker, sweeps, and e-mail.
    jobs_in_process: bool = True
    escalate_after: float = 15 * 60  # seconds a guest waits for an answer before escalation
    auto_resolve_after: float = 7 * 86400  # seconds a pending ticket waits for the guest
    smtp_url: str | None = None
    mail_from: str = "Support <support@localhost>"
    public_url_setting: str | None = None
    # How long finished jobs (succeeded / dead) and read notifications are kept.
    job_retention: float = 7 * 86400
    dead_job_retention: float = 30 * 86400
    notification_retention: float = 30 * 86400
    mail_log_only: bool = False
    # Sign-in (issue 9): who must use two-factor sign-in ("off" | "admins" | "all").
    require_2fa: str = "off"
    # Webhooks (issue 13): deliveries to private addresses (tests, a receiver on the same
    # network), and how long the delivery log is kept.
    webhook_allow_private: bool = False
    webhook_delivery_retention: float = 30 * 86400
    # The guest comes back (issue 12): resume links, replies by e-mail, attachments.
    resume_link_days: int = 30
    inbound_smtp_port: int | None = None
    inbound_smtp_host: str = "127.0.0.1"
    reply_domain: str | None = None
    max_upload_mb: int = 10
    # How new tickets find an agent (issue 11): "manual" or "round_robin".
    assignment: str = "manual"
    # Tuning, not read from the environment: tests make these small.
    job_poll_interval: float = 1.0
    job_lease: float = 60.0
    job_backoff_base: float = 2.0
    job_stop_timeout: float = 1.5  # then the job in hand is given back (shutdown within 5 s)
    sweep_interval: float = 30.0
    session_recheck_interval: float = 60.0  # seconds between the sockets' session checks
    webhook_timeout: float = 10.0  # seconds a receiver has to answer, all told
    webhook_backoff_base: float = 30.0  # first wait before a failed delivery is retried
    webhook_max_attempts: int = 8  # 30 s, 1, 2, 4, 8, 16, 32 min between them (with jitter)

    @property
    def public_url(self) -> str:
        """Where links in e-mails point: PUBLIC_URL, else this server's own address."""
        return self.public_url_setting or f"http://{self.host}:{self.port}"
    ws_compression: bool = False
    # /metrics: the bearer token it requires (unset: open in development, 404 in production),
    # and this process's name in the `process` label (unset: hostname:pid).
    metrics_token: str | None = None
    process_name: str | None = None
    # `run.py worker` serves /metrics on this port (its escalations and readiness); unset: not.
    metrics_port: int | None = None

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def embedded_db(self) -> bool:
        return not self.mongodb_uri

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
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
        if admin_password and not 8 <= len(admin_password) <= 128:
            raise ConfigError("ADMIN_PASSWORD must be 8 to 128 characters long")

        redis_url = get("REDIS_URL")
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://: {redis_url!r}")

        trust = _trust_settings(get)
        jobs_in_process = (get("JOBS_IN_PROCESS") or "1").lower()
        if jobs_in_process not in ("0", "1", "true", "false", "yes", "no"):
            raise ConfigError(f"JOBS_IN_PROCESS must be 1 or 0, not {jobs_in_process!r}")
        escalate_after = parse_duration(get("ESCALATE_AFTER") or "15m", "ESCALATE_AFTER")
        auto_resolve_after = parse_duration(get("AUTO_RESOLVE_AFTER") or "7d", "AUTO_RESOLVE_AFTER")
        job_retention = parse_duration(get("JOB_RETENTION") or "7d", "JOB_RETENTION")
        dead_job_retention = parse_duration(get("DEAD_JOB_RETENTION") or "30d", "DEAD_JOB_RETENTION")
        notification_retention = parse_duration(get("NOTIFICATION_RETENTION") or "30d",
                                                 "NOTIFICATION_RETENTION")
        webhook_delivery_retention = parse_duration(get("WEBHOOK_DELIVERY_RETENTION") or "30d",
                                                    "WEBHOOK_DELIVERY_RETENTION")
        allow_private_raw = (get("WEBHOOK_ALLOW_PRIVATE") or "0").lower()
        if allow_private_raw not in ("0", "1", "true", "false", "yes", "no"):
            raise ConfigError(f"WEBHOOK_ALLOW_PRIVATE must be 1 or 0, not {allow_private_raw!r}")

        smtp_url = get("SMTP_URL")
        if smtp_url:
            parse_smtp_url(smtp_url)
        mail_from = get("MAIL_FROM") or "Support <support@localhost>"
        if "@" not in mail_from:
            raise ConfigError(f"MAIL_FROM must contain an e-mail address: {mail_from!r}")
        mail_log_only_raw = (get("MAIL_LOG_ONLY") or "0").lower()
        if mail_log_only_raw not in ("0", "1", "true", "false", "yes", "no"):
            raise ConfigError(f"MAIL_LOG_ONLY must be 1 or 0, not {mail_log_only_raw!r}")
        mail_log_only = mail_log_only_raw in ("1", "true", "yes")
        if app_env == "production" and not smtp_url and not mail_log_only:
            raise ConfigError("SMTP_URL is required when APP_ENV=production "
                              "(or set MAIL_LOG_ONLY=1 to write e-mails to the log, without their links)")
        require_2fa = (get("REQUIRE_2FA") or "off").lower()
        if require_2fa not in ("off", "admins", "all"):
            raise ConfigError(f"REQUIRE_2FA must be off, admins or all, not {require_2fa!r}")
        assignment = (get("ASSIGNMENT") or "manual").lower()
        if assignment not in ASSIGNMENTS:
            raise ConfigError(f"ASSIGNMENT must be one of {', '.join(ASSIGNMENTS)}, not {assignment!r}")
        public_url = get("PUBLIC_URL")
        if public_url:
            public_url = public_url.rstrip("/")
            if not public_url.startswith(("http://", "https://")):
                raise ConfigError(f"PUBLIC_URL must start with http(s)://: {public_url!r}")
        ws_compression_raw = (get("WS_COMPRESSION") or "0").lower()
        if ws_compression_raw not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"WS_COMPRESSION must be 0 or 1, not {ws_compression_raw!r}")

        metrics_token = get("METRICS_TOKEN")
        if metrics_token is not None and (len(metrics_token) < 16 or not metrics_token.isprintable()
                                          or " " in metrics_token):
            raise ConfigError("METRICS_TOKEN must be at least 16 printable characters without spaces")
        process_name = get("PROCESS_NAME")
        if process_name is not None and not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,64}", process_name):
            raise ConfigError(f"PROCESS_NAME must be 1-64 letters, digits or _.:@-, not {process_name!r}")

        metrics_port_raw = get("METRICS_PORT")
        metrics_port = None
        if metrics_port_raw is not None:
            if not metrics_port_raw.isdigit() or not 0 < int(metrics_port_raw) < 65536:
                raise ConfigError(f"METRICS_PORT must be a port from 1 to 65535, not {metrics_port_raw!r}")
            metrics_port = int(metrics_port_raw)

        guest = _guest_settings(get, host=get("HOST") or "127.0.0.1")

        return cls(
            **guest,
            metrics_token=metrics_token,
            metrics_port=metrics_port,
            process_name=process_name,
            jobs_in_process=jobs_in_process in ("1", "true", "yes"),
            escalate_after=escalate_after,
            auto_resolve_after=auto_resolve_after,
            job_retention=job_retention,
            dead_job_retention=dead_job_retention,
            notification_retention=notification_retention,
            webhook_delivery_retention=webhook_delivery_retention,
            smtp_url=smtp_url,
            mail_from=mail_from,
            mail_log_only=mail_log_only,
            require_2fa=require_2fa,
            webhook_allow_private=allow_private_raw in ("1", "true", "yes"),
            assignment=assignment,
            public_url_setting=public_url,
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
            **trust,
            ws_compression=ws_compression_raw in ("1", "true", "yes", "on"),
        )


def _whole_number(get, name: str, default: int, low: int, high: int) -> int:
    raw = get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$")


def _guest_settings(get, *, host: str) -> dict:
    """RESUME_LINK_DAYS, MAX_UPLOAD_MB and the inbound SMTP listener (replies by e-mail)."""
    values: dict = {
        "resume_link_days": _whole_number(get, "RESUME_LINK_DAYS", 30, 1, 365),
        "max_upload_mb": _whole_number(get, "MAX_UPLOAD_MB", 10, 1, 100),
    }
    port_raw = get("INBOUND_SMTP_PORT")
    if port_raw is not None:
        values["inbound_smtp_port"] = _whole_number(get, "INBOUND_SMTP_PORT", 0, 1, 65535)
    values["inbound_smtp_host"] = get("INBOUND_SMTP_HOST") or host
    domain = get("REPLY_DOMAIN")
    if domain is not None:
        domain = domain.lower()
        if not _DOMAIN.match(domain):
            raise ConfigError(f"REPLY_DOMAIN must be a domain name like reply.example.com, not {domain!r}")
        values["reply_domain"] = domain
    if port_raw is not None and domain is None:
        raise ConfigError("REPLY_DOMAIN is required with INBOUND_SMTP_PORT (guests reply to reply+...@REPLY_DOMAIN)")
    return values


RATE_LIMIT_VARIABLES = {
    "RATE_LIMIT_LOGIN_PER_IP": "rate_login_per_ip",
    "RATE_LIMIT_LOGIN_PER_EMAIL": "rate_login_per_email",
    "RATE_LIMIT_CHAT_START_PER_GUEST": "rate_chat_start_per_guest",
    "RATE_LIMIT_CHAT_START_PER_IP": "rate_chat_start_per_ip",
    "RATE_LIMIT_MESSAGES_PER_TICKET": "rate_messages_per_ticket",
    "RATE_LIMIT_TYPING": "rate_typing",
    "RATE_LIMIT_API_TOKEN": "rate_api_token",
}


def _origins(name: str, raw: str | None) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in (raw or "").split(",") if o.strip())
    for origin in origins:
        if not origin.startswith(("http://", "https://")):
            raise ConfigError(f"{name} entries must start with http(s)://: {origin!r}")
    return origins


def _trust_settings(get) -> dict:
    """TRUST_PROXY, WIDGET_ALLOWED_ORIGINS and the rate limits."""
    from limits import parse

    trust_proxy_raw = (get("TRUST_PROXY") or "false").lower()
    if trust_proxy_raw not in ("1", "true", "yes", "0", "false", "no"):
        raise ConfigError(f"TRUST_PROXY must be true or false, not {trust_proxy_raw!r}")
    values: dict = {
        "trust_proxy": trust_proxy_raw in ("1", "true", "yes"),
        "widget_allowed_origins": _origins("WIDGET_ALLOWED_ORIGINS", get("WIDGET_ALLOWED_ORIGINS")),
    }
    for variable, name in RATE_LIMIT_VARIABLES.items():
        raw = get(variable)
        if raw is None:
            continue
        try:
            parse(raw)
        except ValueError:
            raise ConfigError(f"{variable} must look like 10/minute or 5/10 minutes, not {raw!r}") from None
        values[name] = raw
    return values


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str, name: str) -> float:
    """Seconds, as a number ("900") or with a unit ("30s", "15m", "2h", "7d")."""
    text = value.strip().lower()
    number, unit = (text[:-1], text[-1]) if text and text[-1] in _UNITS else (text, "s")
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        raise ConfigError(f"{name} must be seconds or a duration like 15m, 2h, 7d, not {value!r}") from None
    if not 0 < seconds < 10 * 365 * 86400:
        raise ConfigError(f"{name} must be more than 0 and less than ten years, not {value!r}")
    return seconds


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    """smtp://user:pass@host:port (STARTTLS when offered) or smtps://... (TLS from the start)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise ConfigError("SMTP_URL has a bad port") from None
    return SmtpTarget(
        hostname=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=parts.scheme == "smtps",
    )
