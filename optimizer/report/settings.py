"""`[report]` of optimizer.toml: where the weekly report goes and who gets it.

Credentials never go in the file: an SMTP password is read from the environment
variable named by `password_env`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailSettings(_Strict):
    """`[report.email]`: send report.html as an attachment through an SMTP relay."""

    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None  # the environment variable holding the password
    ca_file: str | None = None  # a private relay's CA bundle for STARTTLS (default: system)
    timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _login_needs_password(self) -> EmailSettings:
        if self.username and not self.password_env:
            raise ValueError("username is set but password_env is not: name the variable")
        return self


class ReportSettings(_Strict):
    """`[report]`: the weekly FinOps report (docs/report.md)."""

    out_dir: str | None = None  # default: reports/ beside the config file
    weeks: int = Field(default=10, ge=1, le=52)  # history on the charts, in weeks
    ahead_days: int = Field(default=14, ge=0, le=90)  # forecast band shown past the week
    top: int = Field(default=15, ge=1, le=500)  # recommendations listed with explanations
    series_limit: int = Field(default=8, ge=1, le=20)  # services/owners drawn, rest "other"
    anomaly_min_usd: float = Field(default=1.0, ge=0)  # smaller misses are noise
    owner_tags: list[str] = Field(default_factory=lambda: ["owner", "team"], min_length=1)
    webhook_url: str | None = None
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    email: EmailSettings | None = None

    @model_validator(mode="after")
    def _webhook_is_http(self) -> ReportSettings:
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must start with http:// or https://")
        return self

    def out_path(self, base_dir: Path) -> Path:
        """The reports folder: `out_dir` relative to the config file's folder."""
        p = Path(self.out_dir or "reports").expanduser()
        return p if p.is_absolute() else base_dir / p
