from regkit.cli import main

raise SystemExit(main())
