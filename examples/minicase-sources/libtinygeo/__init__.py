"""tinygeo: Python binding of libtinygeo (installed by conda only).

Like esmpy (which needs ESMFMKFILE, set by esmf's conda activation script), it
needs TINYGEO_DATA, which libtinygeo's `etc/conda/activate.d` script sets.
"""

import os

DATA = os.environ.get("TINYGEO_DATA", "")
if not DATA or not os.path.isdir(DATA):
    raise ImportError(
        f"TINYGEO_DATA is not set or not a directory ({DATA!r}): activate the conda "
        "environment that has libtinygeo (its etc/conda/activate.d script sets it)"
    )

from ._tinygeo import haversine_km, library_version  # noqa: E402

__version__ = "1.0.0"
__all__ = ["DATA", "haversine_km", "library_version"]
