"""Placeholder, being written."""

def simulate(*a, **k): raise NotImplementedError
def write_dataset(*a, **k): raise NotImplementedError
