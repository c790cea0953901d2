"""PPO for RLHF, constlang's own: rollout, advantages, losses, loop (Huang et al. 2024)."""
