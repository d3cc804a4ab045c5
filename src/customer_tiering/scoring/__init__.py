"""The scorecard, grade schemes, policies, the blend and explanations: configuration in, points out.

Pure like ``models``. Imports ``core``, ``ingest`` (column names) and ``models``; never ``training``."""
