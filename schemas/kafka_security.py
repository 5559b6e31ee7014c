"""How perfpulse's Kafka clients authenticate and encrypt: one value, turned into what aiokafka's
producer, consumer and admin client take (:meth:`KafkaSecurity.client_options`) and what Faust takes
(:meth:`KafkaSecurity.faust_credentials`).

Here, in the shared contract, because every stage and the SDK create Kafka clients and may import
nothing but ``schemas``. The password is a :class:`~pydantic.SecretStr`: its ``repr`` and ``str``
are masked, and :meth:`KafkaSecurity.describe`, the form for log and error lines, never holds it.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import SecretStr

__all__ = ["PLAINTEXT", "KafkaSecurity", "Mechanism", "Protocol"]

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class KafkaSecurity:
    """Security settings of a Kafka client; the default is PLAINTEXT (a local broker).

    Raises ``ValueError`` naming the offending value when the protocol or mechanism is unknown, or
    when SASL is asked for without a username and a password.
    """

    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism = "PLAIN"  # SASL mechanism; used with SASL_PLAINTEXT and SASL_SSL
    username: str = ""  # SASL user
    password: SecretStr = field(default_factory=lambda: SecretStr(""))  # SASL password
    cafile: str | None = None  # PEM CA bundle that signed the brokers' certificates (None: the system's)
    certfile: str | None = None  # PEM client certificate, for brokers that ask for one (ssl.client.auth)
    keyfile: str | None = None  # PEM private key of certfile

    def __post_init__(self) -> None:
        if self.protocol not in get_args(Protocol):
            raise ValueError(f"cannot use Kafka security protocol {self.protocol!r}: one of {get_args(Protocol)}")
        if self.mechanism not in get_args(Mechanism):
            raise ValueError(f"cannot use SASL mechanism {self.mechanism!r}: one of {get_args(Mechanism)}")
        if self.sasl and not (self.username and self.password.get_secret_value()):
            raise ValueError(f"Kafka security protocol {self.protocol} needs a SASL username and password")
        if self.keyfile and not self.certfile:
            raise ValueError("a Kafka client key file needs its certificate file too")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def describe(self) -> str:
        """The settings fit for a log or error line: protocol, mechanism and user, never the password."""
        if not self.sasl:
            return self.protocol
        return f"{self.protocol}, {self.mechanism} as user {self.username!r}"

    def at(self, bootstrap: str) -> str:
        """``bootstrap`` for error lines, followed by :meth:`describe` unless the client is PLAINTEXT."""
        return bootstrap if self.protocol == "PLAINTEXT" else f"{bootstrap} ({self.describe()})"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of SSL and SASL_SSL (None otherwise): the server's certificate and host
        name are checked against ``cafile`` (or the system's CAs); ``certfile``/``keyfile`` are
        offered when the broker asks for a client certificate.

        Raises ``ValueError`` naming the file that cannot be read."""
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=self.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot read Kafka CA file {self.cafile}: {exc}") from exc
        if self.certfile:
            try:
                context.load_cert_chain(self.certfile, self.keyfile)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(
                    f"cannot read Kafka client certificate {self.certfile} / key {self.keyfile}: {exc}"
                ) from exc
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and ``AIOKafkaAdminClient``."""
        options: dict[str, Any] = {"security_protocol": self.protocol, "ssl_context": self.ssl_context()}
        if self.sasl:
            logging.getLogger("aiokafka.conn").addFilter(_HIDE_SASL_REQUESTS)  # once: the same filter is kept once
            options |= {
                "sasl_mechanism": self.mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password.get_secret_value(),
            }
        return options

    def faust_credentials(self) -> Any:
        """Faust's ``broker_credentials`` (None for PLAINTEXT). Faust maps them onto the same aiokafka
        options for its consumer, producer and topic creation. Imported here, not at the top: the SDK
        installs without Faust."""
        from faust.auth import SASLCredentials, SSLCredentials

        context = self.ssl_context()
        if self.sasl:
            password = self.password.get_secret_value()
            return SASLCredentials(
                username=self.username, password=password, ssl_context=context, mechanism=self.mechanism
            )
        return None if context is None else SSLCredentials(context)


class _HideSaslRequests(logging.Filter):
    """Masks the SASL authenticate requests aiokafka logs at DEBUG ("Request to host:port n: <request>"):
    a PLAIN request holds the password in the clear, a SCRAM one the client's proof."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(_is_sasl_request(arg) for arg in record.args):
            record.args = tuple("SaslAuthenticateRequest(<hidden>)" if _is_sasl_request(a) else a for a in record.args)
        return True


def _is_sasl_request(arg: object) -> bool:
    return type(arg).__name__.startswith("SaslAuthenticateRequest")


_HIDE_SASL_REQUESTS = _HideSaslRequests()

PLAINTEXT = KafkaSecurity()  # no authentication, no TLS: a local broker; the default of every client
