"""Checks: rules a program verifies on a reply (refusal, regex, phrases, length, JSON schema).

A constitution declares checks (`check NAME { checker = ... }`); the compiler puts them in the
plan; stages run them on replies, scoped by the tags of the prompt. A package adds a checker by
subclassing `Checker` and naming it in the `constlang.checkers` entry-point group.
"""

from constlang.checks.base import ArgError, Args, Checker, ReplyContext

__all__ = ["ArgError", "Args", "Checker", "ReplyContext"]
