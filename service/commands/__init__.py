"""Command groups of the ``visitflow`` CLI that live beside ``service.cli``, one module each.

Each module defines one click group; ``service.cli`` registers it. They reach the config and
database through ``service.cli._config`` / ``service.cli._context`` (imported inside the
command, so importing a module here never loads the rest of the CLI).
"""
