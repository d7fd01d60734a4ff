/* libtinygeo: a stand-in for a native geoscience library that only conda provides. */
#include <math.h>
#include "tinygeo.h"

double tinygeo_haversine_km(double lat1, double lon1, double lat2, double lon2) {
    const double r = 6371.0, k = M_PI / 180.0;
    double dlat = (lat2 - lat1) * k, dlon = (lon2 - lon1) * k;
    double a = sin(dlat / 2) * sin(dlat / 2)
             + cos(lat1 * k) * cos(lat2 * k) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * asin(sqrt(a));
}

const char *tinygeo_version(void) { return "1.0.0"; }
