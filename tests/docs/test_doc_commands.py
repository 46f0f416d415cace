"""Every `curate VERB --option` written in README.md and docs/*.md (in code blocks and inline code) names
a verb the CLI has and options that verb takes, so a renamed or removed flag cannot live on in the docs.
(Commands that need a cluster or a bucket cannot run here; this is what can be checked of them.)"""

from __future__ import annotations

import re

import click
import pytest

from curate.cli import VERBS, cli
from tests.conftest import ROOT
from tests.docs.markdown import blocks, pages, prose_lines

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
INLINE = re.compile(r"`(curate [^`]+)`")


def commands() -> list[tuple[str, str]]:
    """(where, command line) of every `curate ...` command of the pages."""
    found = []
    for page in pages():
        for block in blocks(page):
            joined = block.code.replace("\\\n", " ")
            for n, line in enumerate(joined.splitlines()):
                line = line.strip().removeprefix("$ ")
                if line.startswith("curate "):
                    found.append((f"{block.where}+{n + 1}", line.split(" #")[0]))
        for n, line in prose_lines(page):
            found += [(f"{page.relative_to(ROOT)}:{n}", m.group(1)) for m in INLINE.finditer(line)]
    return found


COMMANDS = commands()


def options_of(verb: str) -> set[str]:
    command = cli.get_command(click.Context(cli), verb)
    names = {"--help"}
    for param in command.params:
        names.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("--"))
    return names


def test_the_pages_write_many_commands() -> None:
    assert len(COMMANDS) > 50


def test_options_of_curate_itself_are_real() -> None:
    """`curate --help`, `curate --version`: options of the command group, before any verb."""
    own = {o for param in cli.params for o in param.opts if o.startswith("--")} | {"--help"}
    assert {c.split()[1] for _, c in COMMANDS if c.split()[1].startswith("-")} <= own


@pytest.mark.parametrize("verb", sorted({c.split()[1] for _, c in COMMANDS if not c.split()[1].startswith("-")}))
def test_every_command_uses_a_real_verb_and_its_options(verb: str) -> None:
    assert verb in VERBS, [w for w, c in COMMANDS if c.split()[1] == verb]
    known = options_of(verb)
    wrong = [f"{where}: {option} in `{line}`" for where, line in COMMANDS if line.split()[1] == verb
             for option in OPTION.findall(line) if option not in known]
    assert not wrong, "\n".join(wrong)
