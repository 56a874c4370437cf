"""``visitflow demo``: the newcomer's first run – a realistic week in the sandbox, processed by the daemon."""

from __future__ import annotations

import logging

import click


@click.command()
@click.option("--wait", "patience", type=click.FloatRange(min=0), default=15.0, show_default=True,
              help="Seconds to wait for a running daemon to process each step before processing it here.")
@click.pass_context
def demo(ctx: click.Context, patience: float) -> None:
    """Fill the sandbox with a week of the sample people's mail and show what the service makes of it.

    The last five working days' daily reports (Foxmail, iPhone, Outlook, QQ Mail, a Word
    form), the customer registry, 王芳's visit plan, the daily digests with an escalated
    紧急 visit, a gift request approved in two steps, then this month's report under
    storage.reports_dir/demo/. Needs the sandbox (`bash scripts/run.sh --demo` starts it with
    the daemon); without a daemon the demo processes the mail itself. Safe to run again.

    Example: visitflow demo
    """
    from ..cli import _context
    from ..demo import Demo

    # The steps print what happens; the intake's own log lines would drown them (-v shows them).
    loggers = [logging.getLogger(name) for name in ("visitflow", "service")]
    levels = [logger.level for logger in loggers]
    if logging.getLogger().level > logging.DEBUG:
        for logger in loggers:
            logger.setLevel(logging.WARNING)
    context = _context(ctx)
    try:
        Demo(context, say=click.echo, patience=patience).run()
    finally:
        context.close()
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
