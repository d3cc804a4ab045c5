"""Foundations every stage uses: settings, errors, YAML config base models, named columns, fail points.

Owns no business logic. Imports nothing else from the package."""
