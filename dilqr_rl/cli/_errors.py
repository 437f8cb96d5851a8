"""The CLI's user-error class and the conversions that make library messages speak the command's flags."""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class CLIError(Exception):
    """A mistake in how a command was called: ``dilqr-rl`` prints ``error: <message>`` and exits with 2.

    Deliberately not a ``ValueError``: tyro turns those into its own parse errors, and the CLI must not
    mistake a library bug's ``ValueError`` for a user error.
    """


def flag(field_name: str) -> str:
    """``start_angle`` -> ``--start-angle``."""
    return "--" + field_name.replace("_", "-")


def speak_flags(message: str, args_type: type) -> str:
    """Reword a config's message for the command line: ``name=value`` -> ``--name value`` (``--no-name`` for
    ``name=False``), field names with an underscore, and a field name that opens the message -> ``--name``."""
    names = sorted((f.name for f in dataclasses.fields(args_type)), key=len, reverse=True)
    for name in names:
        message = re.sub(rf"\b{name}=False\b", f"--no-{name.replace('_', '-')}", message)
        message = re.sub(rf"\b{name}=True\b", flag(name), message)
        message = re.sub(rf"\b{name}='?([^\s',;)]+)'?", lambda m, n=name: f"{flag(n)} {m.group(1)}", message)
        if "_" in name:
            message = re.sub(rf"(?<![-\w]){name}\b", flag(name), message)
        else:  # a plain word is a field only where it opens the message ("learn names nothing")
            message = re.sub(rf"^{name}\b(?![=-])", flag(name), message)
    return message


def flag_checked(args_type: type) -> type:
    """``args_type`` whose ``__post_init__`` raises :class:`CLIError` in flag terms instead of ``ValueError``
    (a subclass; ``args_type`` itself if it has no checks)."""
    post_init = getattr(args_type, "__post_init__", None)
    if post_init is None:
        return args_type

    def __post_init__(self) -> None:
        try:
            post_init(self)
        except ValueError as error:
            raise CLIError(speak_flags(str(error), args_type)) from None

    namespace = {"__post_init__": __post_init__, "__doc__": args_type.__doc__, "__module__": args_type.__module__,
                 "__qualname__": args_type.__qualname__}
    frozen = args_type.__dataclass_params__.frozen
    return dataclasses.dataclass(frozen=frozen)(type(args_type.__name__, (args_type,), namespace))


def require(condition: bool, message: str) -> None:
    """Raise :class:`CLIError` with ``message`` unless ``condition``."""
    if not condition:
        raise CLIError(message)


def check_threads(threads: int) -> None:
    require(threads >= 1, f"--threads must be >= 1 (torch CPU threads); got {threads}. Small problems run "
                          "fastest with --threads 1.")


@contextmanager
def reported_as(option: str, *errors: type[BaseException], hint: str = "") -> Iterator[None]:
    """Turn ``errors`` raised inside the block into a :class:`CLIError` ``"{option}: {message} {hint}"``."""
    try:
        yield
    except errors as error:
        raise CLIError(f"{option}: {error}" + (f" {hint}" if hint else "")) from None


def writable_folder(path: str | os.PathLike, option: str) -> Path:
    """Check, before any work and without creating anything, that ``path`` is or can be made a writable folder."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "this is a file" if existing == path else f"{existing} is a file"
        raise CLIError(f"{option} {path}: {where}, not a folder; pass a folder (it is created if missing)")
    if not os.access(existing, os.W_OK | os.X_OK) or not _can_create_in(existing):
        raise CLIError(f"{option} {path}: {existing} is not writable; pass a folder you can write to")
    return path


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried with a temporary file, which is removed): ``os.access``
    says yes to root everywhere, also in /proc and on read-only mounts."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def writable_file(path: str | os.PathLike, option: str) -> Path:
    """Check that ``path`` can be written as a file (its folder is created), before any work."""
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{option} {path}: this is a folder; pass a file name, e.g. {path / 'out'}")
    writable_folder(path.parent, f"{option} {path}: its folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise CLIError(f"{option} {path}: the file exists and is not writable; pass another file name")
    return path


USES = {"plans": "dilqr-rl bc / sysid --data", "episodes": "dilqr-rl bc-step --data"}
"""Which commands train on each kind of dataset."""


@contextmanager
def dataset_errors(option: str, path: str | os.PathLike, kind: str) -> Iterator[None]:
    """A dataset that does not load inside the block (missing, corrupted, of the wrong kind or system) is a
    :class:`CLIError` naming ``option`` and the command that makes or uses the right file."""
    from dilqr_rl.data import DatasetError, DatasetMismatchError

    try:
        yield
    except FileNotFoundError:
        raise CLIError(f"{option} {path}: no such file; create one with dilqr-rl collect --kind {kind} ...") \
            from None
    except DatasetMismatchError as error:
        if error.stored in USES and error.stored != kind:
            raise CLIError(f"{option} {path} holds {error.stored}, not {kind}: use it with {USES[error.stored]}, "
                           f"or create {kind} with dilqr-rl collect --kind {kind} ...") from None
        raise CLIError(f"{option} {path}: {error}") from None
    except DatasetError as error:
        raise CLIError(f"{option} {path}: {error}") from None
