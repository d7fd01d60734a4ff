"""Cut a 2-D DataArray into square patches (a tiny stand-in for xrpatcher)."""

__version__ = "0.3.0"


def patches(array, size=2):
    """The size x size patches of a 2-D DataArray, row by row."""
    ny, nx = array.shape
    return [array[i:i + size, j:j + size]
            for i in range(0, ny - size + 1, size) for j in range(0, nx - size + 1, size)]
