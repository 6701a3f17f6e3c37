"""Placeholder, being written."""
def impute(*a, **k): raise NotImplementedError
