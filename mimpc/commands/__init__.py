"""Subcommands of the ``mimpc`` CLI, one module each, plus their shared argument helpers."""
