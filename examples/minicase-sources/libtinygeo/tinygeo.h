#ifndef TINYGEO_H
#define TINYGEO_H
double tinygeo_haversine_km(double lat1, double lon1, double lat2, double lon2);
const char *tinygeo_version(void);
#endif
