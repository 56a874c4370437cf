"""The ``visitflow`` command: one function per command, each help text ending with an example.

Errors a user can cause print as one clear line per problem and exit non-zero; nothing here
is imported by the rest of the package.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from .config import Config, load_config
from .errors import VisitflowError

DEFAULT_CONFIG = "config.yaml"


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


class _Cli(click.Group):
    """Turns user errors into one line per problem and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except VisitflowError as exc:
            for line in exc.lines():
                click.echo(f"visitflow: {line.strip()}" if not line.startswith("  ") else line, err=True)
            sys.exit(2)


@click.group(cls=_Cli)
@click.option("--config", "config_path", envvar="VISITFLOW_CONFIG", default=DEFAULT_CONFIG,
              show_default=True, type=click.Path(dir_okay=False), help="Configuration file.")
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.pass_context
def cli(ctx: click.Context, config_path: str, verbose: bool) -> None:
    """Run the customer-visit rules over email.

    Example: visitflow --config config.yaml run
    """
    _setup_logging(verbose)
    ctx.obj = {"config_path": config_path}


def _config(ctx: click.Context) -> Config:
    if "config" not in ctx.obj:
        ctx.obj["config"] = load_config(ctx.obj["config_path"])
    return ctx.obj["config"]


def _context(ctx: click.Context):
    from .context import Context

    return Context.open(_config(ctx))


@cli.command("check-config")
@click.pass_context
def check_config(ctx: click.Context) -> None:
    """Validate the configuration file; one line per problem, non-zero exit if any.

    Example: visitflow --config config.yaml check-config
    """
    cfg = _config(ctx)
    org = cfg.organisation
    click.echo(f"{cfg.path}: OK – {len(org.units)} unit(s), {len(org.regions)} region(s), "
               f"{len(org.reps)} rep(s), {len(org.people())} people; service mailbox {cfg.service_address}")


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: IMAP IDLE intake, outbox sender and scheduler, until SIGTERM/SIGINT.

    Example: visitflow run
    """
    from .daemon import Daemon

    context = _context(ctx)
    context.cfg.imap.secret()  # a missing secret is a config error, not a reconnect loop
    try:
        Daemon(context).run()
    finally:
        context.close()


@cli.command()
@click.option("--no-send", is_flag=True, help="Leave queued mail in the outbox.")
@click.pass_context
def poll(ctx: click.Context, no_send: bool) -> None:
    """Process all mail waiting in the service mailbox once, send the outbox, then exit.

    Example: visitflow poll
    """
    from .inbound.imap import Connection
    from .intake import Intake
    from .outbound import smtp

    context = _context(ctx)
    cfg = context.cfg
    try:
        conn = Connection(cfg.imap)
        try:
            conn.ensure_folders([cfg.imap.folders.processed, cfg.imap.folders.quarantine])
            result = Intake(context).poll(conn)
        finally:
            conn.close()
        click.echo(f"fetched {result.fetched}, settled {result.processed} {dict(result.settled)}, "
                   f"failed {result.failed}, moved {result.moved}")
        if not no_send:
            sent = smtp.send_due(context.db, cfg.smtp, cfg.service_address)
            click.echo(f"sent {sent} mail(s)")
    finally:
        context.close()


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (spec §6).")
@click.pass_context
def parse(ctx: click.Context, file: str, as_json: bool) -> None:
    """Show how a message would be classified and read; changes nothing.

    Example: visitflow parse tests/fixtures/mail/unrecognized.eml --json
    """
    from .intake import read_message

    result = read_message(Path(file).read_bytes(), _config(ctx))
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
        return
    click.echo(f"kind: {result.kind}\nrule: {result.rule} ({result.reason})")
    for problem in result.problems:
        click.echo(f"problem: {problem}")


@cli.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show messages per state, the quarantine, the outbox backlog, the last IMAP contact,
    pending approvals, and who is being throttled by the loop and flood guard.

    Example: visitflow status
    """
    from .store.status import gather

    context = _context(ctx)
    try:
        report = gather(context.db, throttle_minutes=context.cfg.policy.auto_reply_limit.per_minutes)
    finally:
        context.close()
    click.echo("messages: " + (", ".join(f"{state} {n}" for state, n in report["states"].items()) or "none"))
    click.echo(f"outbox: {report['outbox_queued']} queued, {report['outbox_failed']} failed, "
               f"{report['outbox_sent']} sent" + (f" (oldest queued {report['outbox_oldest']})"
                                                  if report["outbox_oldest"] else ""))
    click.echo(f"last IMAP contact: {report['last_imap_contact'] or 'never'}")
    if report["pending_gifts"]:
        click.echo("pending gift approvals:")
        now = datetime.now(timezone.utc)
        for row in report["pending_gifts"]:
            age = now - datetime.fromisoformat(row["created_at"])
            click.echo(f"  G-{row['id']} {row['customer']} ¥{row['amount']} from {row['requester']}: "
                       f"waiting for {row['approver']} (step {row['seq']}), {_age(age)} old")
    if report["open_urgent"]:
        click.echo("open urgent reports:")
        now = datetime.now(timezone.utc)
        for row in report["open_urgent"]:
            age = now - datetime.fromisoformat(row["created_at"])
            level = "with the unit head" if row["level"] == "unit" else "with leadership"
            click.echo(f"  U-{row['id']} {row['category']} {row['customer'] or '—'} from {row['reporter']}: "
                       f"{row['state']}, {level}, {_age(age)} old; acknowledged by {row['acknowledged_by'] or 'nobody'}")
    if report["throttled"]:
        click.echo("answers held back (loop and flood guard):")
        for row in report["throttled"]:
            click.echo(f"  {row['correspondent']}: {row['withheld']} held back, last {row['last'][:19]} "
                       f"({row['reason']})")
    if report["quarantine"]:
        click.echo("quarantine:")
        for row in report["quarantine"]:
            click.echo(f"  #{row['id']} {row['received_at'][:19]} {row['sender'] or '?'} "
                       f"{row['subject']!r}: {row['reason']}")


@cli.command()
@click.argument("message_id", type=int)
@click.pass_context
def replay(ctx: click.Context, message_id: int) -> None:
    """Process a quarantined or rejected message again (from its stored raw copy).

    Example: visitflow replay 42
    """
    from .intake import Intake, PollResult
    from .store.messages import reset_for_replay

    context = _context(ctx)
    try:
        reset_for_replay(context.db, message_id)
        result = PollResult()
        Intake(context).process(message_id, result)
        row = context.db.execute("SELECT state, reason FROM messages WHERE id = ?", [message_id]).fetchone()
        click.echo(f"message #{message_id}: {row[0]} ({row[1]}); the next poll moves it to its folder")
    finally:
        context.close()


@cli.group()
def jobs() -> None:
    """Run scheduled jobs by hand."""


@jobs.command("run")
@click.argument("name")
@click.option("--at", "at", default=None, help="Run as of this local time, e.g. 2026-11-27T09:00.")
@click.pass_context
def jobs_run(ctx: click.Context, name: str, at: str | None) -> None:
    """Run scheduled job NAME now, as of a given time (once per due time).

    Example: visitflow jobs run gift_reminders --at 2026-11-27T09:00
    """
    from .scheduler import run_job

    context = _context(ctx)
    zone = context.cfg.policy.zone
    try:
        when = datetime.fromisoformat(at) if at else datetime.now(zone)
    except ValueError:
        raise VisitflowError(f"--at {at!r} is not a time such as 2026-11-27T09:00") from None
    when = when if when.tzinfo else when.replace(tzinfo=zone)
    try:
        click.echo(run_job(context, name, when))
    finally:
        context.close()


@cli.group()
def sandbox() -> None:
    """Run the local mail sandbox (Dovecot + Postfix on loopback) for the people in config."""


def _sandbox(ctx: click.Context):
    from .sandbox import MAX_ROOT_LEN, Sandbox

    cfg = _config(ctx)
    state = cfg.path.parent / "var" / "sandbox"
    state.mkdir(parents=True, exist_ok=True)
    password = sandbox_password(state, cfg.imap.password_env)
    # The servers' sockets live under the root, whose path must stay short (socket path
    # limits): a checkout deep in the file system gets its sandbox under /var/tmp instead.
    root = state
    if len(str(state)) > MAX_ROOT_LEN:
        digest = hashlib.sha1(str(state).encode()).hexdigest()[:10]
        root = Path("/var/tmp") / f"visitflow-sandbox-{digest}"
        root.mkdir(mode=0o755, exist_ok=True)
    users = [cfg.service_address, *cfg.organisation.people()]
    return Sandbox(root, imap_port=cfg.imap.port, lmtp_port=cfg.imap.port + 1, smtp_port=cfg.smtp.port,
                   users=users, password=password)


def sandbox_password(root: Path, env_name: str | None) -> str:
    """Return the sandbox password: the configured environment variable, else one kept in root."""
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    path = root / "password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


@sandbox.command("start")
@click.pass_context
def sandbox_start(ctx: click.Context) -> None:
    """Install (if needed) and start the sandbox; prints the password's file.

    Example: visitflow sandbox start
    """
    from .sandbox import ensure_installed

    ensure_installed()
    box = _sandbox(ctx)
    box.start()
    click.echo(f"sandbox running in {box.root}: IMAP 127.0.0.1:{box.imap_port}, SMTP 127.0.0.1:{box.smtp_port}; "
               f"password in {_config(ctx).path.parent / 'var' / 'sandbox' / 'password'} "
               f"(or ${_config(ctx).imap.password_env})")


@sandbox.command("stop")
@click.pass_context
def sandbox_stop(ctx: click.Context) -> None:
    """Stop the sandbox's Dovecot and Postfix (by PID).

    Example: visitflow sandbox stop
    """
    _sandbox(ctx).stop()
    click.echo("sandbox stopped")


@sandbox.command("status")
@click.pass_context
def sandbox_status(ctx: click.Context) -> None:
    """Show whether the sandbox's servers run.

    Example: visitflow sandbox status
    """
    click.echo(json.dumps(_sandbox(ctx).is_running()))


def _age(delta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _register_command_groups() -> None:
    from .commands.customers import customers
    from .commands.demo import demo
    from .commands.plans import plans
    from .commands.report import report

    for group in (customers, plans, report, demo):
        cli.add_command(group)


_register_command_groups()


def main() -> None:
    cli(prog_name="visitflow")


if __name__ == "__main__":
    main()
