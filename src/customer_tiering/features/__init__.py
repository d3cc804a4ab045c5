"""Point-in-time snapshots and the per-customer features and labels (one SQL statement, DuckDB).

Imports ``core`` and ``ingest``."""
