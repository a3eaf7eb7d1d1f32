"""Word lists the recognizers read as package data (one entry a line, ``#`` starts a comment)."""
