"""``python -m chatdb``: the same as the ``chatdb`` console script."""

from chatdb.cli import main

raise SystemExit(main())
