"""What `pool-server` prints for people and scripts, made safe for a terminal.

Titles, file names and login names (a name sent before authentication is enough to reach
the audit) are untrusted: every command's output goes through `printable` (human text:
control and bidi characters shown as escapes) or `json_text` (--json: \\u escapes).
"""

from __future__ import annotations

import logging

import click

from catalog.textsafe import json_text, printable

__all__ = ["SafeFormatter", "echo", "json_text", "printable"]


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """Print for people, neutralised (the line breaks of a message are kept)."""
    click.echo(printable(message, newlines=True), err=err, nl=nl)


class SafeFormatter(logging.Formatter):
    """Log lines as `printable` text: a login name sent before authentication or a file
    name in a log message cannot drive the terminal (or `tail -f`) of the operator."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), newlines=True)
