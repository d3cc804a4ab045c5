"""Periodic and special ratings, the champions they use, exports and reviews.

Imports ``core`` .. ``registry``; never ``training``."""
