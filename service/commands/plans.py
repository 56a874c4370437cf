"""``visitflow plans``: the units' visit plans (巡访计划, spec §4, Article 5)."""

from __future__ import annotations

import click


@click.group()
def plans() -> None:
    """Import and list visit plans (巡访计划)."""
