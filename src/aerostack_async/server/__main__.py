"""``python -m aerostack_async.server``."""

from ._cli import main

main()
