"""``python -m getui_async.mock``: serve the mock until SIGINT/SIGTERM."""

from .cli import main

raise SystemExit(main())
