"""MLflow: tracking runs, registering versions, the champion alias and the model names, once.

Used by ``training`` (writes) and by ``rating`` and the faces (read champions). Imports ``core``,
``ingest``, ``models`` and ``scoring`` (types only)."""
