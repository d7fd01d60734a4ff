"""tinygeo: Python binding of libtinygeo (installed by conda only)."""

from ._tinygeo import haversine_km, library_version

__version__ = "1.0.0"
__all__ = ["haversine_km", "library_version"]
