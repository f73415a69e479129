"""Configuration, read once at the edge (the CLI) into one typed object passed down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8443
    db_url: str = "sqlite:///openturk.db"
    auth: Literal["open", "sigv4"] = "open"
    virtual_clock: bool = False
    aws_endpoint: str | None = None
    # Every new requester's ledger opens with this credit (MTurk's sandbox showed $10,000.00).
    starting_balance_cents: int = 1_000_000
    minimum_reward_cents: int = 1
    # How often the real-time timer loop looks for due expiries, deadlines and auto-approvals.
    timer_interval_s: float = 1.0
    # Notifications: SMTP for the Email transport; the identity SQS/SNS messages are sent as.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    email_sender: str = "openturk@localhost"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    # Start moto's server as the local SQS/SNS endpoint when no --aws-endpoint and no AWS credentials,
    # on a fixed port beside the API's (saved queue URLs stay valid across restarts; see
    # docs/decisions.md), keeping its state in embedded_aws_state (None: next to the database).
    embedded_aws: bool = True
    embedded_aws_port: int = 8444
    embedded_aws_state: str | None = None
    batch_window_s: float = 0.0
    retry_base_s: float = 1.0
    retry_cap_s: float = 300.0
    max_attempts: int = 12
    lease_s: float = 30.0
    dispatch: bool = True
    # Bearer token the admin routes (clock, deliveries, metrics) require when set; without one they
    # answer loopback clients under --auth open and nobody under --auth sigv4 (openturk.web.access).
    admin_token: str | None = None
    # HMAC key of task tokens and GetFileUploadURL's URLs; `openturk serve` fills it with the
    # deployment's stored key when not given (openturk.store.deployment_secrets).
    file_url_secret: str | None = None
    # Speak HTTPS with a certificate from the local CA (openturk.tls); the task listener too.
    tls: bool = False
    # The task origin: a second listener of the same process serving requester content (HTMLQuestion
    # pages, externalSubmit with a signed turkSubmitTo) away from the site's origin. None: the API port
    # + 2; task_origin None: http(s)://<host>:<task port> (set it to the public origin behind a proxy).
    task_port: int | None = None
    task_origin: str | None = None
    # The public origin of the main listener behind a proxy (GetFileUploadURL's URLs name it).
    public_url: str | None = None

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"{self._scheme}://{self._url_host}:{self.port}"

    @property
    def task_listen_port(self) -> int:
        return self.task_port if self.task_port is not None else self.port + 2

    @property
    def task_base_url(self) -> str:
        """The public origin of the task listener, without a trailing slash."""
        if self.task_origin:
            return self.task_origin.rstrip("/")
        return f"{self._scheme}://{self._url_host}:{self.task_listen_port}"

    @property
    def _scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host
