"""PPO for RLHF, constlang's own: rollout, advantages, losses, loop (Huang et al. 2024)."""

UPDATE_EVENT = "ppo"  # the `event` of the row each update logs to the stage's metrics.jsonl
