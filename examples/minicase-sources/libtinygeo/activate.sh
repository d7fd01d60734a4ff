# libtinygeo's conda activation script (like esmf's, which sets ESMFMKFILE for esmpy)
export TINYGEO_DATA="${CONDA_PREFIX}/share/tinygeo"
