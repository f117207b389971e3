"""HTTP routes, one module per audience (ingestion triggers, operations, ...)."""
