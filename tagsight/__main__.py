from tagsight.cli import main

raise SystemExit(main())
