"""python -m indexer"""

from .cli import cli

cli()
