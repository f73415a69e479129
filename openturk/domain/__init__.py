"""Pure domain rules: no I/O, no HTTP, no SQL."""
