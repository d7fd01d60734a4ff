"""Dask clusters: role images from one lock, their manifests, and proof that they agree.

    inventory.inventory()          what an environment holds (stdlib only: runs anywhere)
    compare.compare(members, lock, reference) -> Comparison
                                   differences by role and host, against the lock and the client

Nothing is imported here, so that `inventory` stays importable (and shippable)
on its own.
"""
