"""Typed command-line configs: a dataclass per subcommand, its fields' ``help`` metadata as ``--help``."""

from __future__ import annotations

import argparse
import dataclasses
import typing


def arg_help(text: str) -> dict[str, str]:
    """Field metadata carrying an option's ``--help`` text: ``field(default=..., metadata=arg_help("..."))``."""
    return {"help": text}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One ``--option`` per field of the dataclass ``cls`` (bool fields become ``--x/--no-x``)."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        origin = typing.get_origin(kind)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        help_text = field.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction, default=default,
                                help=help_text)
        elif typing.get_origin(kind) is typing.Literal:
            choices = typing.get_args(kind)
            parser.add_argument(_flag(field.name), type=type(choices[0]), choices=choices, default=default,
                                help=help_text)
        elif typing.get_origin(kind) in (list, tuple):
            item = typing.get_args(kind)[0]
            parser.add_argument(_flag(field.name), type=item, nargs="+", default=default, help=help_text)
        else:
            parser.add_argument(_flag(field.name), type=kind, default=default, help=help_text)


def dataclass_from_namespace(cls: type, ns: argparse.Namespace):
    """Build ``cls`` from the parsed options."""
    values = {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        if isinstance(f.default, tuple) and isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    return cls(**values)
