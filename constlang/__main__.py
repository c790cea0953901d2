"""Entry point for `python -m constlang`."""

from constlang.cli import main

main()
