from enformer_lite.cli import main

raise SystemExit(main())
