"""Resolution (py-rattler for conda, uv for PyPI) and the lock model."""
