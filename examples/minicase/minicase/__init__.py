"""minicase: the distance between two points, on an xarray grid, through a native library."""

import numpy as np
import tinygeo
import xarray as xr
import xrpatch

__version__ = "0.1.0"
MESSAGE = "minicase v1"


def distances(lat0: float = 0.0, lon0: float = 0.0) -> xr.DataArray:
    """Great-circle distance (km) from (lat0, lon0) to a small grid, via libtinygeo."""
    lats = np.linspace(-60, 60, 5)
    lons = np.linspace(-180, 180, 7)
    values = np.array([[tinygeo.haversine_km(lat0, lon0, a, b) for b in lons] for a in lats])
    grid = xr.DataArray(values, coords={"lat": lats, "lon": lons}, dims=("lat", "lon"))
    return xrpatch.patches(grid, size=2)[0]
