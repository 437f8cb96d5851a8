"""The ``dilqr-rl`` command line: one subcommand per module in this package.

Each subcommand module defines ``Args`` (a dataclass whose fields carry ``help`` metadata), ``HELP`` (a
one-line summary) and ``run(args: Args) -> int``. Outputs go under ``runs/`` by default.

User errors (:data:`USER_ERRORS`: a bad value, a missing file, an unreadable dataset, which is a
``ValueError``) print ``error: <message>`` to stderr and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dilqr_rl.cli.args import add_dataclass_arguments, dataclass_from_namespace

# name -> module under dilqr_rl.cli
SUBCOMMANDS: dict[str, str] = {
    "rl": "rl",
    "bc": "bc",
    "sysid": "sysid",
    "evaluate": "evaluate",
    "video": "video",
    "demo": "demo",
    "collect": "collect",
    "bench": "bench",
    "bc-step": "bc_step",
    "reproduce": "reproduce",
}


USER_ERRORS: tuple[type[Exception], ...] = (ValueError, FileNotFoundError)
"""Exceptions ``main`` reports as ``error: <message>`` (``dilqr_rl.data.DatasetError`` is a ``ValueError``)."""


def _parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="dilqr-rl",
        description="Differentiable iLQR policies: data, BC, SysId, RL, evaluation, benchmarks",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f"dilqr_rl.cli.{module_name}")
        modules[name] = module
        p = sub.add_parser(name, help=module.HELP, description=module.HELP,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_dataclass_arguments(p, module.Args)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = _parser()
    ns = parser.parse_args(argv)
    if ns.command is None:
        parser.print_help()
        return 2
    module = modules[ns.command]
    try:
        return int(module.run(dataclass_from_namespace(module.Args, ns)) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
