"""The e-mail notification block of the alerts (isletflow/alerts.py): ``IsletflowEmail``, a
Prefect notification block that sends one e-mail over SMTP with the standard library's
``smtplib``.

Why a block of our own: Prefect 3.9.1 has no SMTP notification block (``EmailServerCredentials``
is in the separate ``prefect-email`` package and is no ``NotificationBlock``, so an automation's
``SendNotification`` action cannot use it, PrefectHQ/prefect#16881).

How the Prefect server finds this class. ``SendNotification`` runs in the server process: it
reads the block document and calls ``Block.get_block_class_from_schema``, which looks the class
up by its block type slug (``isletflow-email``) in Prefect's registry of Block subclasses
(``prefect.utilities.dispatch.lookup_type``); a class is in that registry once its module is
imported. Before the lookup Prefect imports, once per process, every module named by a
``prefect.collections`` entry point (``prefect.plugins.load_prefect_collections``); this
project's ``pyproject.toml`` names this module there, so a server started from the project's
environment (``isletflow serve``, ``make serve``, the tests' server) imports it. A server
started from an environment without isletflow installed answers the action with
``No block class found for slug 'isletflow-email'`` and sends nothing. This module imports
Prefect, pydantic and the standard library only (it is imported by every Prefect process of
the environment that looks up a block class).

The e-mail (:meth:`IsletflowEmail.message`): the automation's subject on one line, and as body
the ``text`` line of the notification's JSON object followed by each of its fields as
``name: value`` (the JSON object of isletflow/alerts.py; a body that is not a JSON object is
sent as it is). Plain text, UTF-8. Nothing is added to what the webhook gets."""

from __future__ import annotations

import asyncio
import json
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.blocks.abstract import NotificationBlock, NotificationError
from pydantic import Field, SecretStr

SUBJECT_CHARS = 200  # a subject longer than this is cut (with "…")
DEFAULT_SUBJECT = "isletflow alert"


def one_line(text: str | None, limit: int = SUBJECT_CHARS) -> str:
    """``text`` with every run of white space (line breaks too) as one space, cut at ``limit``
    characters with ``…``: a header value may hold no line break (RFC 5322 section 2.2)."""
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def text_body(body: str) -> str:
    """The e-mail's text from a notification body: for a JSON object, its ``text`` then a
    blank line then one ``name: value`` line per other field, in the object's order (null
    shown as empty); any other body as it is."""
    try:
        fields = json.loads(body)
    except ValueError:
        return body
    if not isinstance(fields, dict):
        return body
    lines = [str(fields["text"]), ""] if fields.get("text") else []
    lines += [f"{k}: {'' if v is None else v}" for k, v in fields.items() if k != "text"]
    return "\n".join(lines) + "\n"


def smtp_error(err: BaseException) -> str:
    """What to log of a failed send: the error's class and the SMTP reply code, or the
    operating system's error text for a connection that failed. Never the server's reply
    text, which may quote the addresses (personal data)."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return f"{type(err).__name__}: all {len(err.recipients)} recipient(s) refused"
    if isinstance(err, smtplib.SMTPResponseException):
        return f"{type(err).__name__}: SMTP reply {err.smtp_code}"
    if isinstance(err, (socket.timeout, TimeoutError)):
        return f"{type(err).__name__}: no answer within the timeout"
    if isinstance(err, OSError):
        return f"{type(err).__name__}: {err.strerror or err}"
    return type(err).__name__


class IsletflowEmail(NotificationBlock):
    """Send a notification as one e-mail over SMTP (isletflow alerts)."""

    _block_type_name = "isletflow e-mail"
    _block_type_slug = "isletflow-email"
    _description = ("An e-mail over SMTP (STARTTLS, SSL or plain) to a list of addresses: "
                    "isletflow's alert notifications.")

    host: str = Field(description="The SMTP server's host name or address.")
    port: int = Field(ge=1, le=65535, description="The SMTP server's port.")
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls: plain connection upgraded by STARTTLS (port 587); "
        "ssl: TLS from the start (port 465); none: no encryption (a local relay).")
    username: str | None = Field(None, description="The SMTP login, if the server asks one.")
    password: SecretStr | None = Field(None, description="The SMTP password.")
    from_address: str = Field(description="The sender (From).")
    to: list[str] = Field(min_length=1, description="The recipients (To).")
    timeout_s: float = Field(30.0, gt=0, description="Seconds to wait for the connection "
                             "and for each reply of the server.")

    def message(self, body: str, subject: str | None = None) -> EmailMessage:
        """The e-mail (module docstring)."""
        msg = EmailMessage()
        msg["Subject"] = one_line(subject) or DEFAULT_SUBJECT
        msg["From"] = self.from_address
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain=self.from_address.rpartition("@")[2] or None)
        msg.set_content(text_body(body), cte="quoted-printable")  # 7-bit: any SMTP server
        return msg

    def send(self, body: str, subject: str | None = None) -> None:
        """Connect (``security``), log in if there is a username, send :meth:`message`;
        the error of smtplib or of the connection if that fails, or SMTPRecipientsRefused if
        some recipient was refused (the others got it)."""
        context = ssl.create_default_context()
        smtp_class = smtplib.SMTP_SSL if self.security == "ssl" else smtplib.SMTP
        extra = {"context": context} if self.security == "ssl" else {}
        with smtp_class(self.host, self.port, timeout=self.timeout_s, **extra) as smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username,
                           self.password.get_secret_value() if self.password else "")
            refused = smtp.send_message(self.message(body, subject))
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)

    def _notify(self, body: str, subject: str | None) -> None:
        try:
            self.send(body, subject)
        except Exception as err:  # noqa: BLE001 — any failure is the action's, told by class
            what = (f"e-mail via {self.host}:{self.port} ({self.security}) not sent: "
                    f"{smtp_error(err) if isinstance(err, (OSError, smtplib.SMTPException)) else type(err).__name__}")
            self.logger.error(what)
            if self._raise_on_failure:  # SendNotification: the action fails with this log
                raise NotificationError(log=what) from None

    async def anotify(self, body: str, subject: str | None = None) -> None:
        """Send (:meth:`send`) in a worker thread; a failure is logged (without addresses),
        and raised as NotificationError inside ``raise_on_failure()``, as the automation's
        SendNotification action calls it."""
        await asyncio.to_thread(self._notify, body, subject)

    @async_dispatch(anotify)
    def notify(self, body: str, subject: str | None = None) -> None:
        """:meth:`anotify`, called from synchronous code."""
        self._notify(body, subject)
