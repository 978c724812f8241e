"""Delivery of a saved brief: email over SMTP (STARTTLS, SSL or plain), HTML with a Markdown text part,
or notes in an Obsidian vault (`brief.deliver: obsidian:DIR`, see podbrief.export).

Settings come from the `email:` config section; the password is best given as
PODBRIEF_EMAIL_PASSWORD in the environment (the usual env override of `email.password`).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from podbrief import export, render
from podbrief.config import Config
from podbrief.errors import ConfigError, DeliveryError, UsageError

OBSIDIAN = "obsidian:"  # brief.deliver: obsidian:DIR keeps the vault in DIR current


def build_message(brief: render.Brief, sender: str, to: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = render.title(brief)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="podbrief.local")
    message.set_content(render.markdown(brief))
    message.add_alternative(render.html_page(brief), subtype="html")
    return message


def check(config: Config) -> None:
    """Raise ConfigError now, before any work, if the delivery settings cannot work."""
    if config["brief"]["deliver"] == "email":
        _check_email(config)


def _vault(config: Config) -> Path | None:
    """The vault directory of `brief.deliver: obsidian:DIR`, or None for another delivery."""
    value = config["brief"]["deliver"]
    if not value.startswith(OBSIDIAN):
        return None
    return Path(value[len(OBSIDIAN):].strip()).expanduser()


def _check_email(config: Config) -> None:
    email = config["email"]
    if not email["to"] or not all(isinstance(address, str) and "@" in address for address in email["to"]):
        raise ConfigError(f"email.to: expected a list of email addresses, got {email['to']!r}")


def _sender(email: dict[str, Any]) -> str:
    return email["sender"] or (email["username"] if "@" in email["username"] else f"podbrief@{socket.getfqdn()}")


def send_email(brief: render.Brief, config: Config) -> None:
    """Send `brief` to `email.to`; any failure becomes one DeliveryError line."""
    email = config["email"]
    _check_email(config)
    server = f"{email['host']}:{email['port']}"
    timeout = config["network"]["timeout"]
    context = ssl.create_default_context()
    try:
        if email["security"] == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(email["host"], email["port"], timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(email["host"], email["port"], timeout=timeout)
        with client:
            if email["security"] == "starttls":
                client.starttls(context=context)
            if email["username"]:
                client.login(email["username"], email["password"])
            client.send_message(build_message(brief, _sender(email), email["to"]))
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError(f"email: {server} does not offer STARTTLS (set email.security to ssl or none)") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"email: {server} refused the login for {email['username']!r} ({_reply(exc)})") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"email: {server} refused the message ({_reply(exc)})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"email: {server} refused the recipients {', '.join(exc.recipients)}") from None
    except (OSError, smtplib.SMTPException) as exc:  # includes refused connections, timeouts and TLS errors
        raise DeliveryError(f"email: cannot send via {server}: {exc or type(exc).__name__}") from None


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}"


def deliver(brief: render.Brief, config: Config) -> str | None:
    """Deliver as `brief.deliver` says; returns a one-line note of where it went, or None."""
    check(config)
    vault = _vault(config)
    if vault is not None:
        try:
            report = export.obsidian(export.from_brief(brief), vault)
        except UsageError as exc:
            raise DeliveryError(f"obsidian: {exc}") from None
        return f"exported the brief to the Obsidian vault {vault}: {report.summary()}"
    if config["brief"]["deliver"] == "none":
        return None
    send_email(brief, config)
    return f"emailed the brief to {', '.join(config['email']['to'])}"
