"""Shared CLI plumbing: error handling with the exit-code contract, JSON output, warnings."""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import click

from curate.errors import CurateError
from curate.pipeline.workstore import json_default


def run_cli(group: click.Group, argv: list[str]) -> None:
    """Run the click group; user errors print one line and exit 2, internal errors exit 1."""
    try:
        group.main(args=argv, prog_name="curate", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:  # usage errors: click's own formatting, exit 2
        exc.show()
        sys.exit(2)
    except CurateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the contract: internal failure = exit 1
        if _env_debug():
            traceback.print_exc()
        click.echo(f"internal error: {type(exc).__name__}: {exc} (set CURATE_DEBUG=1 for a traceback)", err=True)
        sys.exit(1)
    sys.exit(0)


def _env_debug() -> bool:
    import os

    return os.environ.get("CURATE_DEBUG", "") not in ("", "0")


def echo_json(data: Any) -> None:
    """Print `data` as the only thing on stdout (warnings go to stderr)."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=json_default))




def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)
