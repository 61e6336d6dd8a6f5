"""Send a written report: POST report.json to a webhook, e-mail report.html over SMTP.

Standard library only (urllib, smtplib). A failed delivery raises `DeliveryError`
after the files are written, so the report is never lost to a mail outage.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from optimizer.report.settings import EmailSettings
from store.errors import OptimizerError


class DeliveryError(OptimizerError):
    """The report was written but could not be delivered (webhook or e-mail)."""

    exit_code = 3  # an outside service failed, as for collect (design.md §9)
    kind = "delivery error"


def post_webhook(url: str, payload: dict[str, Any], timeout: float) -> int:
    """POST the JSON payload; returns the HTTP status (2xx), else raises."""
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "optimizer-report/1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(
            f"the webhook answered HTTP {exc.code} {exc.reason}",
            where=url,
            fix="check the URL and that the receiver accepts a JSON POST; the report files "
            "are written, re-send with `optimizer report --week ... --webhook URL`",
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(
            f"the webhook could not be reached: {reason}",
            where=url,
            fix="check the host, port and network (a proxy?); the report files are written",
        ) from exc


def summary_payload(report: dict[str, Any], html_path: Path) -> dict[str, Any]:
    """What the webhook gets: the whole report.json plus where report.html is."""
    week = report.get("week", {})
    totals = report.get("totals", {})
    text = (
        f"FinOps report {week.get('label')}: usage spend {totals.get('week')} USD "
        f"(week before {totals.get('previous_week')}), open savings "
        f"{totals.get('open_savings')} USD/month, {totals.get('anomalies_in_week')} "
        f"anomalies this week"
    )
    return {"text": text, "html_path": str(html_path), "report": report}


def send_email(settings: EmailSettings, subject: str, text: str, html_path: Path) -> None:
    """One message to every recipient, report.html attached; STARTTLS when asked."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message.set_content(text)
    message.add_attachment(
        html_path.read_bytes(), maintype="text", subtype="html", filename=html_path.name
    )
    where = f"{settings.host}:{settings.port}"
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
            if settings.username:
                smtp.login(settings.username, _password(settings))
            refused = smtp.send_message(message)
    except smtplib.SMTPException as exc:
        raise DeliveryError(
            f"the SMTP server refused the report: {exc}",
            where=where,
            fix="check [report.email] (sender, to, starttls, username/password_env) and "
            "the relay's rules; the report files are written",
        ) from exc
    except OSError as exc:  # TimeoutError included
        raise DeliveryError(
            f"the SMTP server could not be reached: {exc}",
            where=where,
            fix="check [report.email] host and port and the network",
        ) from exc
    if refused:
        raise DeliveryError(
            f"the SMTP server refused recipient(s): {', '.join(sorted(refused))}",
            where=where,
            fix="check [report.email] to",
        )


def _password(settings: EmailSettings) -> str:
    name = settings.password_env or ""
    value = os.environ.get(name)
    if not value:
        raise DeliveryError(
            f"[report.email] username is set but the environment variable {name} is empty",
            fix=f"export {name}=... (the password never goes in optimizer.toml)",
        )
    return value
