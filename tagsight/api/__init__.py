"""HTTP: the Azure-compatible routers, auth, error mapping."""
