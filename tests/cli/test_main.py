"""``dilqr-rl`` itself: the command list, fast help, unknown commands, and the one error class it catches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dilqr_rl.cli import main, subcommands
from dilqr_rl.cli._errors import speak_flags
from dilqr_rl.cli.rl import Args as RLArgs
from tests import SUBPROCESS_TIMEOUT_S


def test_help_lists_every_command_without_importing_torch():
    code = ("import sys; from dilqr_rl.cli import main; code = main(['--help']); "
            "print('torch' in sys.modules, 'stable_baselines3' in sys.modules, code)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.stdout.splitlines()[-1] == "False False 0"
    names = {"bc", "bc-step", "bench", "collect", "dagger", "demo", "evaluate", "reproduce", "rl", "sysid", "video"}
    for name in names:
        assert f"\n  {name} " in out.stdout
    assert set(subcommands()) == names


def test_no_command_and_unknown_commands(capsys):
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("usage: dilqr-rl COMMAND [OPTIONS]")
    assert main(["train"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown command 'train'; valid: bc, bc-step, bench")


LONG = "/home/someone/a/rather/long/path/of/experiments/2024-cartpole-swingup/runs/and/more/and/more/and/more"


@pytest.mark.parametrize(("argv", "message"), [
    (["rl", "--bogus-flag", "1"], "Unrecognized options: --bogus-flag, 1 (see 'dilqr-rl rl --help')"),
    (["rl", "--seed", "abc"], "Error parsing --seed: invalid literal for int() with base 10: 'abc' (see 'dilqr-rl rl "
                              "--help')"),
    (["bc-step", "--policy"], "Missing value for argument '--policy'. Expected 1 values. (see 'dilqr-rl bc-step "
                              "--help')"),
    (["rl", "--learn"], "--learn names nothing; expected one or more of physics, cost, cost-map"),
    (["rl", "--outputdir", LONG], f"Unrecognized options: --outputdir, {LONG}; perhaps you meant --output-dir (see "
                                  "'dilqr-rl rl --help')"),  # a word wider than tyro's box, joined back
])
def test_options_the_parser_refuses_are_one_error_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not any(tmp_path.iterdir())


def test_help_still_prints_and_exits_0(capsys):
    assert main(["rl", "--help"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("usage: dilqr-rl rl [-h] [OPTIONS]") and out.err == ""


def test_only_cli_errors_are_caught(monkeypatch):
    """A bug (here a ValueError from inside a command) keeps its traceback: main does not swallow it."""
    import dilqr_rl.cli.video as video

    def broken(args):
        raise ValueError("a bug")

    monkeypatch.setattr(video, "run", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["video"])


def test_config_messages_speak_flags():
    message = "start_angle sets reset options: use env_id=Pendulum-v1, or start_angle=None; progress=False"
    assert speak_flags(message, RLArgs) == ("--start-angle sets reset options: use --env-id Pendulum-v1, or "
                                            "--start-angle None; --no-progress")


def test_every_command_with_a_progress_bar_takes_no_progress():
    """The README: ``--progress/--no-progress`` in every command with a bar (``bench`` prints tables, no bar)."""
    import dataclasses
    import importlib

    without = {name for name, command in subcommands().items()
               if "progress" not in {f.name for f in dataclasses.fields(
                   importlib.import_module(f"dilqr_rl.cli.{command.module}").Args)}}
    assert without == {"bench"}
    bench = Path(importlib.import_module("dilqr_rl.bench").__path__[0])
    assert not [path.name for path in bench.glob("*.py") if "tqdm" in path.read_text()]


@pytest.mark.parametrize("argv", [["--help"], ["rl", "--help"]])
def test_output_into_a_closed_pipe_stops_without_a_traceback(argv):
    read, write = os.pipe()
    os.close(read)  # as `dilqr-rl rl --help | head` once head has exited: every write fails
    try:
        done = subprocess.run([sys.executable, "-m", "dilqr_rl.cli", *argv], stdout=write, stderr=subprocess.PIPE,
                              timeout=SUBPROCESS_TIMEOUT_S, check=False)
    finally:
        os.close(write)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr.decode() and "BrokenPipeError" not in done.stderr.decode()
