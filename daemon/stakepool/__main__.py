from stakepool.cli import main

raise SystemExit(main())
