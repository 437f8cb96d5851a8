"""Loading the policy that ``evaluate`` and ``video`` run, with errors in the commands' terms."""

from __future__ import annotations

from pathlib import Path

from dilqr_rl.cli._errors import CLIError

POLICY_HELP = ("'expert' (the iLQR expert of the env), a BC checkpoint (.pt: dilqr-rl bc, bc-step) or a PPO model "
               "(.zip: dilqr-rl rl's model.zip or checkpoints/*_steps.zip)")


def make_cli_env(env_id: str, **kwargs):
    """``make_env(env_id)``; an unknown id is a :class:`CLIError` naming ``--env-id``."""
    import gymnasium as gym

    from dilqr_rl.envs import ENV_IDS, make_env

    if env_id not in gym.registry:
        raise CLIError(f"--env-id {env_id}: no such environment; pass one of ours ({', '.join(ENV_IDS)}) or a "
                       "Gymnasium id such as Pendulum-v1 or InvertedPendulum-v5")
    return make_env(env_id, **kwargs)


def load_cli_policy(source: str, env, env_id: str):
    """``load_policy(source, env)`` with its user errors as :class:`CLIError` (``--policy`` / ``--env-id``)."""
    from dilqr_rl.agents.evaluation import load_policy
    from dilqr_rl.data import DatasetError

    if source != "expert" and not Path(source).is_file():
        raise CLIError(f"--policy {source}: no such file; pass {POLICY_HELP}")
    try:
        return load_policy(source, env)
    except (ValueError, DatasetError) as error:
        message = str(error)
        if "no iLQR expert" in message:
            raise CLIError(f"--policy expert: {message}; pass one of those as --env-id") from None
        if "observations" in message:
            raise CLIError(f"--policy {source} does not fit --env-id {env_id}: {_cli_words(message)}") from None
        raise CLIError(f"--policy {source}: {message}; pass {POLICY_HELP}") from None


def _cli_words(message: str) -> str:
    return message.replace("use an environment that observes the state (e.g. observation='state'), or wrap the "
                           "planner in MPCPolicy with a state_map",
                           "pass the --env-id it was trained on, e.g. dilqr_rl/Pendulum-v0")
