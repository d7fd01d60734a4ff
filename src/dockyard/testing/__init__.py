"""Helpers for dockyard's own tests and examples: real local bases, channels, registries.

Nothing here is a fake of the thing a test checks: these build real images,
real conda channels and real registries on this machine.
"""
