"""Functions that a Dask graph calls by reference: the scheduler and workers must import them.

Since distributed 2023.4 the scheduler unpickles the graph, so a scheduler without this
package cannot even read a graph that names `daskcase.total`.
"""

import operator
import socket

import toolz  # at module level: a light scheduler must keep it

__version__ = "0.1.0"
STEP = 1  # the tests build an "older" image with another value


def inc(x: int) -> int:
    return x + STEP


def total(xs: list[int]) -> int:
    return toolz.reduce(operator.add, map(inc, xs))


def where(_: object = None) -> str:
    return socket.gethostname()


def describe(n: int) -> str:
    import humanize  # imported when called, not at module level: a light scheduler may skip it

    return humanize.intcomma(n)
