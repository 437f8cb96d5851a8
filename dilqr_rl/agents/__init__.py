from dilqr_rl.agents.bc import BCConfig, BCResult, BCTrainer  # noqa: F401  (re-exports)
from dilqr_rl.agents.bc_sequence import (  # noqa: F401  (re-exports)
    SequenceBCTrainer,
    SequencePolicySpec,
    build_sequence_policy,
    load_sequence_policy,
)
from dilqr_rl.agents.bc_step import StepBCTrainer, StepPolicySpec, load_step_policy  # noqa: F401
from dilqr_rl.agents.evaluation import MPCPolicy, evaluate_policy  # noqa: F401  (re-exports)
from dilqr_rl.agents.ppo import PPOConfig, train_ppo  # noqa: F401  (re-exports)
from dilqr_rl.agents.sysid import SysIdConfig, fit_sysid  # noqa: F401  (re-exports)
from dilqr_rl.agents.video import record_video, write_video  # noqa: F401  (re-exports)
