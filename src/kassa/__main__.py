from kassa.cli import main

raise SystemExit(main())
