from dilqr_rl.policies.baselines import LSTMSequencePolicy as LSTMSequencePolicy
from dilqr_rl.policies.baselines import MLPPolicy as MLPPolicy
from dilqr_rl.policies.baselines import MLPSequencePolicy as MLPSequencePolicy
from dilqr_rl.policies.dilqr_policy import DiLQRPolicy as DiLQRPolicy
from dilqr_rl.policies.expert_envs import ILQRExpert as ILQRExpert
from dilqr_rl.policies.expert_envs import expert_for as expert_for
from dilqr_rl.policies.planning_head import PlanningHead as PlanningHead
