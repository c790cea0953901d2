"""Lint rules, one module each; constlang.lint.registry lists them in order."""
