/* The Python binding of libtinygeo: a CPython extension linked against libtinygeo.so.1. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "tinygeo.h"

static PyObject *haversine_km(PyObject *self, PyObject *args) {
    double a, b, c, d;
    if (!PyArg_ParseTuple(args, "dddd", &a, &b, &c, &d)) return NULL;
    return PyFloat_FromDouble(tinygeo_haversine_km(a, b, c, d));
}

static PyObject *library_version(PyObject *self, PyObject *noargs) {
    return PyUnicode_FromString(tinygeo_version());
}

static PyMethodDef methods[] = {
    {"haversine_km", haversine_km, METH_VARARGS, "Great-circle distance in km."},
    {"library_version", library_version, METH_NOARGS, "libtinygeo's version."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tinygeo", NULL, -1, methods};

PyMODINIT_FUNC PyInit__tinygeo(void) { return PyModule_Create(&module); }
