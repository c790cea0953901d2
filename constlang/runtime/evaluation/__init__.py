"""Evaluation of models on held-out prompts: refusal detector, win rates, report, plots."""
