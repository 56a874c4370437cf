"""The context object passed to every component: config, database, renderer, signals.

There is no global state: whatever a piece of code needs arrives through a Context. Each
thread makes its own (`for_thread`), because a SQLite connection must not cross threads.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlite_utils import Database

from .config import Config
from .outbound import outbox
from .outbound.outbox import FileAttachment
from .outbound.render import Renderer
from .store.db import open_db


@dataclass
class Context:
    cfg: Config
    db: Database
    renderer: Renderer = field(default_factory=Renderer)
    # Set after a commit that queued mail, so the sender thread sends at once.
    outbox_ready: threading.Event = field(default_factory=threading.Event)
    queued_since_commit: int = 0
    # Why answers to the message being processed were held back (the intake adds them to
    # the message's outcome); reset for each message.
    withheld: list[str] = field(default_factory=list)
    # Mails a worker process rendered ahead for the message being processed (service.workers):
    # send() uses one when its template, recipients and variables are exactly the same.
    drafts: list["Draft"] = field(default_factory=list)
    # What workflows read once per transaction (a unit's customer registry): the intake
    # empties it when a transaction begins, so nothing outlives a write by someone else.
    cache: dict = field(default_factory=dict)
    # Files written by workflows since the last sync (customer cards): the intake syncs them
    # with the database before it moves the mail they came in out of the inbox.
    unsynced: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, cfg: Config, **kwargs) -> "Context":
        """Open the configured database and return a context around it."""
        return cls(cfg=cfg, db=open_db(cfg.storage.database), **kwargs)

    def for_thread(self) -> "Context":
        """Return a context for another thread: same config and signals, its own connection."""
        return Context(cfg=self.cfg, db=open_db(self.cfg.storage.database), renderer=self.renderer,
                       outbox_ready=self.outbox_ready)

    def send(self, template: str, *, to: Sequence[str], cc: Sequence[str] = (), language: str | None = None,
             in_reply_to: str | None = None, references: Sequence[str] = (), cause_message: int | None = None,
             attachments: Sequence[FileAttachment] = (), thread: str | None = None,
             answer: str | None = None, **variables: object) -> str:
        """Render ``template`` and queue it for to/cc in the current transaction; return its Message-ID.

        ``thread`` and ``answer`` are recorded for the answer guard (see outbox.queue); the
        correspondent of an answer is its first recipient. Raises RenderError for a broken
        template and ValueError for a header that cannot be written safely.
        """
        lang = language or self.cfg.language_for(to[0])
        key = Draft.key_of(template, lang, to, cc, in_reply_to, references, variables)
        drafted = None if attachments else next((d for d in self.drafts if d.key == key), None)
        if drafted is not None:
            self.drafts.remove(drafted)  # each drafted mail (and its Message-ID) is used once
            outgoing = drafted.mail
        else:
            outgoing = compose(self.cfg, self.renderer, template, lang, to=to, cc=cc, in_reply_to=in_reply_to,
                               references=references, attachments=attachments, variables=variables)
        outbox.queue(self.db, template=template, msg=outgoing, recipients=[*to, *cc], cause_message=cause_message,
                     thread=thread, answer=answer, correspondent=to[0].lower() if answer else None)
        self.queued_since_commit += 1
        return outgoing.message_id

    def notify_sender(self) -> None:
        """Wake the outbox sender if mail was queued since the last call (call after commit)."""
        if self.queued_since_commit:
            self.queued_since_commit = 0
            self.outbox_ready.set()

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class Draft:
    """A mail rendered and built ahead of the writer, with what it was made from (``key``)."""

    key: tuple
    mail: outbox.OutgoingMail

    @staticmethod
    def key_of(template: str, language: str, to: Sequence[str], cc: Sequence[str], in_reply_to: str | None,
               references: Sequence[str], variables: dict) -> tuple:
        return (template, language, tuple(to), tuple(cc), in_reply_to, tuple(references), variables)


def compose(cfg: Config, renderer: Renderer, template: str, language: str, *, to: Sequence[str],
            cc: Sequence[str] = (), in_reply_to: str | None = None, references: Sequence[str] = (),
            attachments: Sequence[FileAttachment] = (), variables: dict) -> outbox.OutgoingMail:
    """Render ``template`` in ``language`` with ``variables`` and build the mail under a new Message-ID.

    Pure but for the fresh Message-ID and the Date header. Raises RenderError for a broken
    template and ValueError for a header that cannot be written safely.
    """
    mail = renderer.render(template, language, service_name=cfg.service_name,
                           service_address=cfg.service_address, **variables)
    return outbox.build_message(mail=mail, sender=cfg.service_address, sender_name=cfg.service_name, to=to, cc=cc,
                                message_id=outbox.new_message_id(cfg.service_address), in_reply_to=in_reply_to,
                                references=references, attachments=attachments)
