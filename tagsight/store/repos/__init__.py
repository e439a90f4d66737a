"""Query functions: the only place SQL is built. All arguments are keyword-only."""
