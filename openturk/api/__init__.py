"""The generic, model-driven wire layer: nothing here knows a particular operation."""
