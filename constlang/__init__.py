"""constlang: a declarative language for AI constitutions, its compiler and runtime."""

__version__ = "0.1.0"
