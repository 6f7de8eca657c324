"""The ``fascidetect`` command line: a click group with one function per command.

Machine output (JSON/TSV) goes to stdout, human messages to stderr. Exit codes:
0 success, 1 a file failed or a user error (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from ._version import __version__


def _fail_cleanly(func):
    """Turn our exceptions into one clean line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .errors import FascidetectError

        try:
            return func(*args, **kwargs)
        except FascidetectError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fascidetect")
def cli():
    """Find fasciculations in surface EMG and tell them from spasms and artifacts.

    \b
    Example:
      fascidetect info recording.edf
      fascidetect detect recording.edf --out results/
    """


def main(argv=None):
    """Entry point of the ``fascidetect`` console script."""
    try:
        cli.main(args=argv, prog_name="fascidetect", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        click.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
