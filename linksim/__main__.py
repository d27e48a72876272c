"""``python -m linksim`` = the ``linksim`` command."""

from .cli import console_main

console_main()
