"""dockyard.verify: run an image as the platform would, and prove its kernel works.

    verify_image(engine, image) -> VerifyReport

starts the image with its CMD (or the platform's, `--cmd`) as its own user,
publishes Jupyter to 127.0.0.1 only, waits for `/api/status`, picks the app's
kernelspec over the REST API, starts it and runs code in it over the kernel
websocket: interpreter version, an import of every top-level module of the
locked distributions, installed versions against the lock, not root.
"""

from .report import Check, VerifyReport, render
from .run import LABEL_KERNEL, LABEL_LOCK, choose_kernel, verify_image

__all__ = [
    "Check", "VerifyReport", "render", "verify_image", "choose_kernel",
    "LABEL_KERNEL", "LABEL_LOCK",
]
