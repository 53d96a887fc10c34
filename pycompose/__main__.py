from pycompose.cli import main

raise SystemExit(main())
