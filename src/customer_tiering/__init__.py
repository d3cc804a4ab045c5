"""customer-tiering: grade B2B customers (客户分级管理) and explain every grade.

The package is the *what*: every line of logic lives here, importable and tested. ``training/`` and
``serving/`` hold the YAML people edit and thin entry points; ``models/`` holds what training produces.
"""

from customer_tiering.core.errors import (
    ConfigError,
    InputError,
    ModelMismatchError,
    Problem,
    TieringError,
    TooManyRejectsError,
)
from customer_tiering.core.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "InputError",
    "ModelMismatchError",
    "Problem",
    "Settings",
    "TieringError",
    "TooManyRejectsError",
    "__version__",
]
