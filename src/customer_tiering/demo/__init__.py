"""The demo book (with hidden truth) and the demo job that runs the whole loop on it.

May import any stage below the faces."""
