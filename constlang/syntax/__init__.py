"""Syntax: parsing .const text into an AST, and printing it back (the formatter)."""
