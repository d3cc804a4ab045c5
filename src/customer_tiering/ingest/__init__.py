"""Reading and validating a company's files: contract, headers, parsing, raw reading (CSV
encodings, XLSX sheets), validation, loading, rules across files, writing, bulk load.

Owns the column names (``contract``) and the clean data set. Imports only ``core``."""
