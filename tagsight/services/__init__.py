"""Use cases: the product's rules and limits, between the HTTP layer and the store."""
