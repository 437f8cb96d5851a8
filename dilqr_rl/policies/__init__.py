from dilqr_rl.policies.dilqr_policy import DiLQRPolicy as DiLQRPolicy
from dilqr_rl.policies.planning_head import PlanningHead as PlanningHead
