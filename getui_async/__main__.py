"""``python -m getui_async`` is the ``getui-push`` command."""

from .cli import main

raise SystemExit(main())
