"""Runtime: executes a compiled plan, stage by stage (imports torch only inside the stages)."""
