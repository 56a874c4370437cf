"""``visitflow report``: the monthly visit report (每月巡访情况报告书, spec §5, Article 10)."""

from __future__ import annotations

import click


@click.group()
def report() -> None:
    """Write (and send) the monthly visit report."""
