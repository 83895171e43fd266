"""``python -m kassa.fake_processor``: serve the reference processor in the foreground."""

from kassa.fake_processor.server import main

raise SystemExit(main())
