"""The commands in the CLI's printed hints are spelled as they run in the environment running the CLI."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from dilqr_rl.cli._commands import installed_command

SCRIPTS = Path(sysconfig.get_path("scripts"))


def test_a_script_of_this_environment_is_named_by_its_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # the environment is not activated
    monkeypatch.chdir(SCRIPTS.parent.parent)  # the folder holding the environment (the checkout, for .venv)
    assert installed_command("tensorboard") == str(Path(SCRIPTS.parent.name, SCRIPTS.name, "tensorboard"))
    monkeypatch.chdir(tmp_path)  # outside it
    assert installed_command("tensorboard") == str(SCRIPTS / "tensorboard")


def test_a_script_on_the_path_or_not_in_this_environment_is_named_plainly(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([str(SCRIPTS), str(tmp_path)]))  # an activated environment
    assert installed_command("tensorboard") == "tensorboard"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert installed_command("no-such-script") == "no-such-script"


def test_a_path_with_a_space_is_quoted(tmp_path, monkeypatch):
    scripts = tmp_path / "my env" / "bin"
    scripts.mkdir(parents=True)
    (scripts / "tensorboard").write_text("#!/bin/sh\n")
    (scripts / "tensorboard").chmod(0o755)
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(scripts))
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    assert installed_command("tensorboard") == "'my env/bin/tensorboard'"
