"""Email delivery against a real SMTP server (aiosmtpd) on 127.0.0.1: plain, STARTTLS, SSL, login, faults.

tests/fixtures/tls holds a self-signed certificate for 127.0.0.1 (valid until 2125);
SSL_CERT_FILE makes the client trust it, exactly as a user would for a private CA.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from support.briefdata import free_port, sample_brief
from support.smtpserver import smtp  # noqa: F401 - a fixture

from podbrief import config as configmod
from podbrief import deliver
from podbrief.errors import ConfigError, DeliveryError

TLS = Path(__file__).parent / "fixtures" / "tls"
USER, PASSWORD = "me@example.org", "s3cret pass"


def server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    return context


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER \
        and auth_data.password.decode() == PASSWORD
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


@pytest.fixture
def trust_test_cert(monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "cert.pem"))


def settings(port: int, security: str, environ: dict[str, str] | None = None, **email_keys) -> configmod.Config:
    flags = {"brief.deliver": "email", "email.host": "127.0.0.1", "email.port": port, "email.security": security,
             "email.to": ["reader@example.org"], "network.timeout": 5} | {f"email.{k}": v for k, v in email_keys.items()}
    return configmod.load(None, environ=environ or {}, flags=flags)


def test_plain_smtp_delivers_html_with_text_alternative(smtp):
    inbox, port = smtp()
    note = deliver.deliver(sample_brief(), settings(port, "none", sender="podbrief@example.org"))
    assert note == "emailed the brief to reader@example.org"
    [message] = inbox.messages
    assert inbox.recipients == ["reader@example.org"]
    assert message["Subject"] == "podbrief, Wed 25 Nov 2026: 2 insights"
    assert message["From"] == "podbrief@example.org"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert html.startswith("<!DOCTYPE html>") and "&lt;script&gt;" in html and "<script>" not in html
    assert "A one-time $500 payment" in text and "## Problems" in text


def test_starttls_with_password_from_environment(smtp, trust_test_cert):
    inbox, port = smtp(tls_context=server_tls(), require_starttls=True, authenticator=check_login,
                       auth_required=True)
    config = settings(port, "starttls", environ={"PODBRIEF_EMAIL_PASSWORD": PASSWORD}, username=USER)
    deliver.send_email(sample_brief(), config)
    [message] = inbox.messages
    assert message["From"] == USER  # no sender configured: the login name is used


def test_implicit_ssl(smtp, trust_test_cert):
    inbox, port = smtp(ssl_context=server_tls())
    deliver.send_email(sample_brief(), settings(port, "ssl"))
    assert len(inbox.messages) == 1


def test_untrusted_certificate_is_refused(smtp):
    inbox, port = smtp(tls_context=server_tls(), require_starttls=True)
    with pytest.raises(DeliveryError, match=r"cannot send via 127\.0\.0\.1:\d+: .*certificate verify failed"):
        deliver.send_email(sample_brief(), settings(port, "starttls"))
    assert inbox.messages == []


def test_server_without_starttls(smtp):
    _, port = smtp()
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        deliver.send_email(sample_brief(), settings(port, "starttls"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_password(smtp):
    _, port = smtp(authenticator=check_login, auth_required=True, auth_require_tls=False)
    with pytest.raises(DeliveryError, match=r"refused the login for 'me@example.org' \(535 "):
        deliver.send_email(sample_brief(), settings(port, "none", username=USER, password="wrong"))


def test_unreachable_server():
    with pytest.raises(DeliveryError, match=r"email: cannot send via 127\.0\.0\.1:\d+: .*[Cc]onnection refused"):
        deliver.send_email(sample_brief(), settings(free_port(), "none"))


@pytest.mark.parametrize("flags, message", [
    ({"brief.deliver": "pigeon"}, "brief.deliver: expected one of none, email, obsidian:DIR, got 'pigeon'"),
    ({"brief.deliver": "email"}, "email.to: expected a list of email addresses, got []"),
    ({"brief.deliver": "email", "email.to": ["a@b.c"], "email.security": "tls"}, "email.security: expected one of"),
])
def test_bad_delivery_settings_name_the_key(flags, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        deliver.check(configmod.load(None, environ={}, flags=flags))


def test_deliver_none_sends_nothing():
    assert deliver.deliver(sample_brief(), configmod.load(None, environ={})) is None
