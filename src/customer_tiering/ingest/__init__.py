"""Reading and validating a company's files: the data contract, parsing, raw reading, loading, bulk load.

Owns the column names (``contract``) and the clean data set. Imports only ``core``."""
