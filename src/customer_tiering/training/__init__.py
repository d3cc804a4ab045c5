"""The training use case: snapshots -> models -> baselines -> MLflow run -> gate -> champion alias.

Imports every stage below ``rating``; nothing serving imports it."""
