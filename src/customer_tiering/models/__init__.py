"""The estimators and their maths: churn, value, segments, baselines (BG/NBD + Gamma-Gamma, RFM),
evaluation, drift and the training spec. Pure: never opens a file, a session or an MLflow client.

Imports ``core`` and ``ingest`` (column names)."""
