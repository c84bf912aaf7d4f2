"""A real SMTP server on loopback for the tests (aiosmtpd), recording every message it accepts,
and able to misbehave on demand: refuse a recipient or the data with a given answer, or wait
before answering (a client's time limit runs out)."""
from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)


@dataclass
class Recorder:
    """The handler: ``messages`` accepted; ``rcpt_answers`` / ``data_answers``: answers given
    instead of accepting, one per command, in order (``None`` accepts); ``rcpt_delay``: seconds
    to wait before answering a recipient; ``data_delay``: seconds to wait, the message taken,
    before answering it."""

    messages: list[Received] = field(default_factory=list)
    rcpt_answers: list[str | None] = field(default_factory=list)
    data_answers: list[str | None] = field(default_factory=list)
    rcpt_delay: float = 0
    data_delay: float = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        if self.rcpt_answers:
            answer = self.rcpt_answers.pop(0)
            if answer:
                return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_answers:
            answer = self.data_answers.pop(0)
            if answer:
                return answer
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        if self.data_delay:  # the message is taken; the answer comes late
            await asyncio.sleep(self.data_delay)
        return "250 2.0.0 Ok: queued as TEST"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """``SmtpServer().start()``: listening on 127.0.0.1:``port``; ``stop()`` closes it."""

    def __init__(self, port: int | None = None, **auth):
        self.recorder = Recorder()
        self.port = port or free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **auth)

    @property
    def messages(self) -> list[Received]:
        return self.recorder.messages

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def self_signed_certificate(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 signed by itself, and its key: (certificate file, key file)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=2))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = f"{folder}/smtp-cert.pem", f"{folder}/smtp-key.pem"
    with open(cert_file, "wb") as out:
        out.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return cert_file, key_file


def server_tls_context(cert_file: str, key_file: str):
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context
