"""`durable-assistants`: the command line. Importing the package registers every command group
on the app (`workers.cli.app`), in the order `--help` lists them; `main` is the console
script."""

# isort: off
from workers.cli import run_commands  # noqa: F401 (registers its commands)
from workers.cli import conversation_commands  # noqa: F401
from workers.cli import ingest_commands  # noqa: F401
from workers.cli import tools  # noqa: F401
from workers.cli import cleanup_commands  # noqa: F401
from workers.cli import server_commands  # noqa: F401
from workers.cli.app import main

# isort: on

__all__ = ["main"]
