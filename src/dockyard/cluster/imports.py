"""What a package imports at module level: read with `ast`, stdlib only, any Python 3.6+.

    module_imports(roots, modules) -> {imported top-level module: [file:line, ...]}

`roots` are the directories the package is installed in, `modules` its
top-level names. A statement counts when importing the package runs it: the
module's body, and the bodies of `if`, `try`, `with`, loops and classes in
it; not function bodies (they run when called) and not `if TYPE_CHECKING:`.
Relative imports are the package's own. Shipped as text and run inside an
image, like `inventory`, so it reads exactly the files that are installed.
"""

import ast
import os


def _type_checking(test) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _statements(body):
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If):
            if not _type_checking(node.test):
                yield from _statements(node.body)
            yield from _statements(node.orelse)
            continue
        yield node
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and not isinstance(node, ast.Module):
                yield from _statements(inner)
        for handler in getattr(node, "handlers", None) or ():
            yield from _statements(handler.body)


def _file_imports(path: str) -> list:
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), filename=path)
    found = []
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            found += [(a.name.split(".")[0], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.module.split(".")[0], node.lineno))
    return found


def _files(root: str, module: str) -> list:
    single = os.path.join(root, module + ".py")
    if os.path.isfile(single):
        return [single]
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, module)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        out += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".py")]
    return out


def module_imports(roots, modules) -> dict:
    """{top-level module imported at module level: ["file:line", ...]}, own modules excluded."""
    own = set(modules)
    found = {}
    for root in roots:
        for module in sorted(own):
            for path in _files(root, module):
                try:
                    names = _file_imports(path)
                except (OSError, SyntaxError, ValueError):
                    continue  # a file Python cannot import either: nothing it needs
                for name, line in names:
                    if name not in own:
                        found.setdefault(name, []).append(f"{path}:{line}")
    return found
