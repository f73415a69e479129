"""The Requester API operations: thin handlers named ``xform_name(Operation)``.

Each resolves the caller's objects, calls a ``domain`` rule that returns the new state and the
events it implies, and persists both in one transaction.
"""
