"""CLI settings shared by every command module (kept apart from cli.py to avoid an import cycle)."""

# Commands defined in their own modules set this too: click caches a command's help option the
# first time it is built, so a command run on its own must already know `-h`.
HELP_OPTIONS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
