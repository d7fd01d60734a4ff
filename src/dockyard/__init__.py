"""dockyard: lean, reproducible images of Python projects on a platform's base image.

The pipeline (see STYLE in the docs):

    project files -> ProjectSpec -> Lock -> BuildPlan -> Containerfile -> image
                                                      -> image -> Inventory -> Findings
"""

__version__ = "0.1.0"
