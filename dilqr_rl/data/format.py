"""The on-disk format of demonstration datasets: one ``.npz`` archive of plain arrays plus JSON metadata.

Layout (``FORMAT_VERSION`` 1):

- ``__metadata__``: a 0-d unicode array holding a JSON object with at least ``format`` ("dilqr_rl
  dataset"), ``format_version`` (int), ``kind`` ("plans", "episodes" or "pixel_episodes") and ``arrays`` (name ->
  {"shape", "dtype"}, checked on load);
- one entry per array, named as in ``arrays`` (e.g. ``train.x``); numeric arrays only.

No pickled objects: files load with ``numpy.load(path, allow_pickle=False)`` in any language with an npz
reader. Each zip entry carries a CRC, so a damaged file fails to load instead of giving wrong numbers.
Writes go to a temporary file in the target directory, then ``os.replace`` it, so a failed save leaves
any previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "dilqr_rl dataset"
FORMAT_VERSION = 1
"""Bumped on any incompatible change of the layout; readers refuse versions they do not know."""
METADATA_KEY = "__metadata__"
CREATE = {"plans": "`dilqr-rl collect --kind plans ...`", "episodes": "`dilqr-rl collect --kind episodes ...`",
          "pixel_episodes": "dilqr_rl.data.collect_pixel_episodes(...)"}
"""How to make a dataset of each kind (for the error messages)."""
LOADERS = {"plans": "PlanDataset", "episodes": "EpisodeDataset", "pixel_episodes": "PixelEpisodeDataset"}


class DatasetError(ValueError):
    """A dataset file is unreadable, of an unknown format version, or not what the caller asked for."""


class DatasetMismatchError(DatasetError):
    """A valid dataset of the wrong kind or for the wrong system / environment; ``stored`` says what it holds
    (its kind, system or environment), so that a caller can phrase its own advice."""

    def __init__(self, message: str, stored: str | None = None) -> None:
        super().__init__(message)
        self.stored = stored


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> Path:
    """Write ``arrays`` and ``metadata`` atomically to ``path`` (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"array {name!r} has dtype object; datasets hold numeric arrays only")
    header = {
        **metadata,
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()},
    }
    payload = {METADATA_KEY: np.array(json.dumps(header)), **arrays}
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez_compressed(file, **payload)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a dataset is a normal file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_arrays(path: str | os.PathLike, kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a dataset of ``kind`` written by :func:`save_arrays`; every failure is a :class:`DatasetError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no dataset at {path}; create one with {CREATE.get(kind, kind)}")
    regenerate = f"Regenerate it with {CREATE.get(kind, kind)}."
    try:
        with np.load(path, allow_pickle=False) as archive:
            if METADATA_KEY not in archive.files:
                raise DatasetError(f"{path} is an npz archive but not a dilqr_rl dataset (no {METADATA_KEY!r} "
                                   f"entry). {regenerate}")
            metadata = json.loads(str(archive[METADATA_KEY]))
            _check_header(path, metadata, kind, regenerate)
            arrays = {name: archive[name] for name in metadata["arrays"]}
    except DatasetError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError) as error:
        raise DatasetError(f"{path} is not a readable dilqr_rl dataset (truncated or corrupted: "
                           f"{type(error).__name__}: {error}). {regenerate}") from error
    for name, spec in metadata["arrays"].items():
        array = arrays[name]
        if list(array.shape) != spec["shape"] or str(array.dtype) != spec["dtype"]:
            raise DatasetError(f"{path}: array {name!r} is {array.dtype}{list(array.shape)} but the metadata "
                               f"says {spec['dtype']}{spec['shape']}; the file is corrupted. {regenerate}")
    return arrays, metadata


def _check_header(path: Path, metadata: Any, kind: str, regenerate: str) -> None:
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise DatasetError(f"{path} is not a dilqr_rl dataset (metadata lacks format={FORMAT_NAME!r}). "
                           f"{regenerate}")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise DatasetError(f"{path} has format version {version!r}, but this dilqr_rl reads version "
                           f"{FORMAT_VERSION}; load it with the dilqr_rl version that wrote it "
                           f"({metadata.get('library_version', 'unknown')}) or regenerate it.")
    if metadata.get("kind") != kind:
        other = metadata.get("kind")
        loader = LOADERS.get(str(other), "the matching class")
        raise DatasetMismatchError(f"{path} holds a {other!r} dataset, expected {kind!r}; load it with "
                                   f"{loader}.load", stored=str(other))
    if not isinstance(metadata.get("arrays"), dict):
        raise DatasetError(f"{path}: the metadata has no array table; the file is corrupted. {regenerate}")
