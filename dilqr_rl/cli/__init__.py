"""The ``dilqr-rl`` command line: one subcommand per public module of this package, parsed by tyro.

Adding a subcommand is adding one module ``dilqr_rl/cli/<name>.py`` (the command is ``<name>`` with
``-`` for ``_``; modules starting with ``_`` are helpers, not commands). The module has

- a docstring whose first line is the summary ``dilqr-rl --help`` lists (read without importing the
  module, so the top-level help stays fast);
- ``Args``: a frozen dataclass with a docstring under each field, which tyro turns into typed options
  (``--help`` shows the docstrings; ``tuple[float, float, float]`` takes exactly three values,
  ``X | None`` accepts ``None``, ``bool`` gives ``--x/--no-x``). Reuse the library's config where
  there is one (``Args = BenchConfig``, or a subclass that adds the command's own fields, as ``rl``
  does with ``PPOConfig``) instead of re-listing its fields;
- ``run(args: Args) -> int``: the exit status. Import heavy modules (torch, SB3, the agents) inside
  ``run`` so that ``--help`` does not load them.

Errors: a user's mistake raises :class:`~dilqr_rl.cli._errors.CLIError`, which ``main`` prints as
``error: <message>`` (what was wrong, what was expected, what to do, in terms of the command's flags)
and exit status 2. Only ``CLIError`` is caught: a ``ValueError`` from the library at a known spot (a
dataset that does not load, a video format) is converted where it happens, and anything else, a real
bug or the solver's ``NonFiniteError``, keeps its traceback. A ``ValueError`` from an ``Args``
dataclass's own checks is a user error by construction and is reworded with flag names. Ctrl-C exits
with status 130 after the command has saved what it can (``rl`` and ``bc`` print how to resume).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib
import importlib.util
import io
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

PROG = "dilqr-rl"
DESCRIPTION = "Differentiable iLQR policies: data, BC, SysId, RL, evaluation, videos, benchmarks"


class Subcommand(NamedTuple):
    module: str
    """Module name under ``dilqr_rl.cli``."""
    summary: str
    """First line of the module's docstring."""


def subcommands() -> dict[str, Subcommand]:
    """``{command: Subcommand}`` for every public module of this package, found without importing it."""
    out = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        spec = importlib.util.find_spec(f"{__name__}.{info.name}")
        source = Path(spec.origin).read_text(encoding="utf-8") if spec and spec.origin else ""
        doc = ast.get_docstring(ast.parse(source)) or ""
        out[info.name.replace("_", "-")] = Subcommand(info.name, _summary(doc))
    return dict(sorted(out.items()))


def _summary(doc: str) -> str:
    """The docstring's first line without a leading ``dilqr-rl name``: label."""
    line = doc.strip().splitlines()[0] if doc.strip() else ""
    return (line.split(": ", 1)[1] if line.startswith("``") and ": " in line else line).rstrip(".")


def usage(commands: dict[str, Subcommand]) -> str:
    width = max(map(len, commands))
    rows = "\n".join(f"  {name:<{width}}  {cmd.summary}" for name, cmd in commands.items())
    return (f"usage: {PROG} COMMAND [OPTIONS]\n\n{DESCRIPTION}\n\ncommands:\n{rows}\n\n"
            f"'{PROG} COMMAND --help' lists a command's options. Outputs go under runs/ by default.")


def parse(args_type: type, argv: Sequence[str], prog: str, description: str | None = None):
    """Parse ``argv`` into ``args_type`` with tyro (``--help`` shows ``description``, default: the class
    docstring); a ``ValueError`` of its checks becomes a :class:`CLIError` that names flags
    (``--start-angle``) instead of fields (``start_angle``)."""
    import tyro

    from dilqr_rl.cli._errors import CLIError, flag_checked

    checked = flag_checked(args_type)
    report = io.StringIO()
    try:
        with contextlib.redirect_stderr(report):
            parsed = tyro.cli(checked, args=list(argv), prog=prog, description=description)
    except SystemExit as done:
        if done.code not in (0, None):
            raise CLIError(_one_line(report.getvalue(), prog)) from None
        sys.stderr.write(report.getvalue())
        raise
    sys.stderr.write(report.getvalue())  # warnings while parsing
    if checked is args_type:
        return parsed
    return args_type(**{f.name: getattr(parsed, f.name) for f in dataclasses.fields(args_type) if f.init})


def _one_line(report: str, prog: str) -> str:
    """tyro's boxed parse error (unknown option, malformed value, missing value) as one line: its message, the flags
    it suggests, then where to look. The box's title ("Value error") and the help texts are dropped. rich draws the
    box with or without box characters, depending on the terminal, and breaks a word longer than the box across
    lines: a message line as wide as the box's rule was broken, and is joined to the next without a space."""
    sections: list[list[str]] = [[]]
    width, boxed = 0, False
    for raw in report.splitlines():
        if raw.lstrip().startswith(("╭", "╰")):  # the borders; the top one holds the title
            boxed = True
            continue
        line = raw.strip("│| ")
        if line and set(line) <= set("─-+ "):  # a rule between sections
            width = width or len(line)
            sections.append([])
        elif line:
            sections[-1].append(line)
    if not boxed and len(sections) > 1:  # drawn without box characters: the title is a section of its own
        sections = sections[1:]
    text = ""
    for k, line in enumerate(sections[0]):
        broken = k > 0 and len(sections[0][k - 1]) >= width > 0
        text += line if not text or broken else " " + line
    for section in sections[1:]:
        if section and section[0].startswith("Perhaps you meant"):
            flags = [line.split()[0] for line in section[1:] if line.startswith("-")]
            text += f"; perhaps you meant {', '.join(flags)}" if flags else ""
    return f"{text or 'the options could not be parsed'} (see '{prog} --help')"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dilqr-rl``; returns the exit status (0 success, 1 output cut off, 2 usage or user error, 130
    interrupted)."""
    try:
        return _run(argv)
    except BrokenPipeError:  # stdout's reader went away (``dilqr-rl rl --help | head``): stop without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # and let Python's flush at exit succeed
        return 1


def _run(argv: Sequence[str] | None) -> int:
    from dilqr_rl.cli._errors import CLIError

    argv = list(sys.argv[1:] if argv is None else argv)
    commands = subcommands()
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(commands), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        from dilqr_rl import __version__

        print(f"{PROG} {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in commands:
        print(f"error: unknown command {name!r}; valid: {', '.join(commands)} (see '{PROG} --help')",
              file=sys.stderr)
        return 2
    command = commands[name]
    module = importlib.import_module(f"{__name__}.{command.module}")
    try:
        args = parse(module.Args, rest, f"{PROG} {name}")
        return int(module.run(args) or 0)
    except SystemExit as done:  # tyro: --help (0) or a malformed option (2), already reported
        return done.code if isinstance(done.code, int) else int(done.code is not None)
    except CLIError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
