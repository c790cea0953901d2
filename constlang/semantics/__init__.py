"""Semantics: resolving imports and names, checking types, ranges and templates."""
