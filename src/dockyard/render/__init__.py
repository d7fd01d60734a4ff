"""render(plan) -> BuildContext: the Containerfile and the small files of the build context.

Pure: the same plan renders the same bytes (golden files in tests/render/).
What the host must still put into the context (conda environment, uv, the PyPI
artifacts, git sources, the project's source or its installed package, the
lock) is named by the CONTEXT_* paths and staged by `dockyard.render.stage`.

The Containerfile has two stages from the same digest-pinned base:
- builder (root): uv from a hash-pinned wheel; the conda part installed by the
  host (sha256-checked) copied into the prefix (or a venv of the base's Python
  when it is the very version of the lock's conda python); PyPI packages from
  the artifacts the host fetched (`uv pip install --no-deps --require-hashes
  --no-index`, no network; sdists build with the index for their backends); git
  dependencies at their commits; then `finish.py`: uv's world-writable `.lock`
  removed, no file writable by others, and the environment's digest;
- final: the environment in ONE layer owned by the platform's user, copied by a
  RUN keyed on that digest (a `COPY --from` would read every byte again on each
  build to decide whether its layer can be reused), the kernel spec and the lock,
  then the project's package last (built on the host, so a code change touches
  nothing else); LABELs; the base's USER; never CMD or ENTRYPOINT.
Secrets (a CA bundle, a netrc) are `RUN --mount=type=secret` only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..plan.model import BuildPlan

CONTEXT_CONDA_ENV = "conda-env"  # the conda part, installed by the host for the prefix
CONTEXT_UV = "tools/uv"
CONTEXT_SOURCES = "sources"  # sources/<name>/: git trees at their commits, path deps
CONTEXT_PROJECT = "project"  # the project's source, filtered by .dockerignore
CONTEXT_LOCK = "dockyard.lock"
CONTEXT_WHEELS = "wheels"  # the PyPI artifacts, fetched and sha256-checked by the host
CONTEXT_APP = "app"  # the project's package as installed in app_dir (built on the host)
# Build backends of the project and source dependencies, pinned with hashes by the host
# (`dockyard build` resolves them), so the image build resolves nothing at all.
# One file for the git/path dependencies and one for the project, so that a new release
# of the project's backend only rebuilds the project's layer.
CONTEXT_BUILD_CONSTRAINTS = "build-requirements"
CONTAINERFILE = "Containerfile"

BUILD = "/opt/dockyard/build"  # builder-stage scratch, never in the final stage
KERNEL_OUT = "/opt/dockyard/kernel"  # builder stage: the kernel spec with the env's activation
UV_CACHE = "/root/.cache/uv"
ENV_DIGEST = f"{BUILD}/env.digest"  # builder stage: what finish.py says the environment is
ENV_MOUNT = "/mnt/dockyard-env"  # final stage: the builder's environment, bound read-only
BUILDER_LABEL = "io.dockyard.builder"  # on the builder stage's images, so they can be found

DOCKERIGNORE_PATTERNS = (
    "**/.git", "**/.hg", "**/.svn", "**/__pycache__", "**/*.py[cod]", "**/.venv", "**/venv",
    "**/.mypy_cache", "**/.pytest_cache", "**/.ruff_cache", "**/.ipynb_checkpoints",
    "**/.tox", "**/.nox", "**/node_modules", "**/*.egg-info", "**/.DS_Store",
    "**/.env", "**/.netrc", "**/.pypirc", "**/*.pem", "**/*.key",
    "project/build", "project/dist", "project/dockyard.lock",
)
WHEELS_TXT = "wheels.txt"
CONDA_ENV_FORMAT = "conda-env/1"  # bump when the host installs the conda part differently


@dataclass(frozen=True, slots=True)
class ContextFile:
    path: str  # relative to the context root
    data: bytes
    mode: int = 0o644


@dataclass(frozen=True, slots=True)
class BuildContext:
    containerfile: str
    files: tuple[ContextFile, ...]  # the Containerfile included
    needs_conda_env: bool
    needs_sources: tuple[str, ...]  # git/path dependency names, staged under sources/<name>/
    needs_project: bool


def _q(value: str) -> str:
    return json.dumps(value)


def kernel_json(plan: BuildPlan) -> bytes:
    spec = {
        "argv": list(plan.kernel.argv),
        "display_name": plan.kernel.display_name,
        "language": plan.kernel.language,
        "metadata": {"debugger": True},
    }
    return (json.dumps(spec, indent=1, sort_keys=True) + "\n").encode()


def _index_file(index: str) -> str:
    return "pypi.txt" if index.rstrip("/") == "https://pypi.org/simple" else \
        "index-" + "".join(c if c.isalnum() else "-" for c in index.split("://", 1)[-1]) + ".txt"


def requirements(plan: BuildPlan) -> dict[str, tuple[str, str]]:
    """requirements file name -> (index URL, text): exact pins with the chosen artifact's hash.

    `wheels.txt` (index "") lists the packages whose wheel the host fetched: installed
    with no index at all. Packages locked as an sdist only are built with their index
    for their build backends, one file per index."""
    by_index: dict[str, list[str]] = {}
    for w in sorted(plan.wheels, key=lambda w: w.name):
        hashes = (w.sha256,) if w.sha256 else w.hashes
        pins = "".join(f" \\\n    --hash=sha256:{h}" for h in hashes)
        key = "" if w.is_wheel else w.index
        by_index.setdefault(key, []).append(f"{w.name}=={w.version}{pins}\n")
    header = "# from dockyard.lock; installed with --no-deps --require-hashes\n"
    return {
        (WHEELS_TXT if not index else _index_file(index)): (index, header + "".join(lines))
        for index, lines in sorted(by_index.items())
    }


def _mounts(plan: BuildPlan, *, cache: bool = True) -> tuple[str, str]:
    """(mount flags, env prefix) for steps that reach an index (and read fetched artifacts)."""
    mounts = [f"--mount=type=bind,source={CONTEXT_WHEELS},target={BUILD}/{CONTEXT_WHEELS}"]
    if cache:
        mounts.append(f"--mount=type=cache,id=dockyard-uv,target={UV_CACHE}")
    env = []
    for sid in plan.secrets if cache else ():
        mounts.append(f"--mount=type=secret,id={sid},target=/run/secrets/{sid}")
        if sid == "ca":
            env.append("SSL_CERT_FILE=/run/secrets/ca")
        elif sid == "netrc":
            env.append("NETRC=/run/secrets/netrc")
    return " ".join(mounts), (" ".join(env) + " ") if env else ""


def conda_env_key(plan: BuildPlan) -> str:
    """What the conda part staged in the context is made of (the packages' sha256, the
    prefix, whether conda's python is left out): the builder's step that copies it is
    named after it, so the layer cache tells one conda part from another without
    reading it."""
    import hashlib

    return hashlib.sha256("\n".join([
        CONDA_ENV_FORMAT, plan.prefix, str(plan.interpreter.replaces_conda_python),
        *sorted(a.sha256 for a in plan.conda)]).encode()).hexdigest()[:16]


def _builder(plan: BuildPlan) -> list[str]:
    i = plan.interpreter
    py = i.python
    uv = f"{BUILD}/bin/uv"
    constraints = f"{BUILD}/{CONTEXT_BUILD_CONSTRAINTS}"
    wheels = f"{BUILD}/{CONTEXT_WHEELS}"
    out = [
        f"FROM {plan.base_from} AS builder",
        # first: this stage's chain of cached layers is the project's own (a first step
        # other builds share may lead Podman's cache lookup into their chain)
        f"LABEL {BUILDER_LABEL}={_q(plan.project_name)}",
        "USER root",
        # the base's HOME may be the platform user's: say where uv's cache mount is
        f"ENV UV_CACHE_DIR={UV_CACHE} UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy "
        "UV_NO_PROGRESS=1 UV_COMPILE_BYTECODE=0",
        f"# uv {plan.uv.version}: fetched by the host from {plan.uv.url.rsplit('/', 1)[-1]}, "
        f"sha256 {plan.uv.sha256}",
        f"COPY {CONTEXT_UV} {uv}",
    ]
    if i.kind == "base":
        out.append(f"RUN {uv} venv --python {i.base_python} {plan.prefix}")
    if plan.conda:
        without = " (without conda's python: the base's runs them)" \
            if i.replaces_conda_python else ""
        out.append(f"# {len(plan.conda)} conda packages, sha256-checked and installed by the "
                   f"host for the prefix {plan.prefix}{without}; bound and copied, not "
                   "COPYed (a COPY reads every file on each build to decide whether its layer "
                   "can be reused): the mount's name is the packages' digest")
        mount = f"{BUILD}/conda-env-{conda_env_key(plan)}"
        out.append(f"RUN --mount=type=bind,source={CONTEXT_CONDA_ENV},target={mount} \\\n"
                   f"    mkdir -p {plan.prefix} && cp -a {mount}/. {plan.prefix}/")
        out.append("# the conda activation scripts' variables go into the kernel spec's env")
        out.append(f"COPY kernel/ {BUILD}/kernel/")
        out.append(f"RUN {py} {BUILD}/kernel/activate.py {BUILD}/kernel/kernel.json "
                   f"{KERNEL_OUT} {plan.prefix}")
    else:
        out.append(f"COPY kernel/finish.py {BUILD}/kernel/finish.py")
    reqs = requirements(plan)
    if reqs:
        out.append(f"COPY requirements/ {BUILD}/requirements/")
    for name, (index, _) in reqs.items():
        if not index:
            n = sum(1 for w in plan.wheels if w.is_wheel)
            mounts, _ = _mounts(plan, cache=False)
            out.append(f"# {n} PyPI wheels, fetched and sha256-checked by the host: "
                       "no index, no network")
            out.append(f"RUN {mounts} \\\n    {uv} pip install --python {py} --no-deps "
                       f"--require-hashes --no-index --find-links {wheels} --no-cache "
                       f"--link-mode hardlink -r {BUILD}/requirements/{name}")
        else:
            mounts, senv = _mounts(plan)
            out.append("# built from their sdists (fetched by the host); the index serves "
                       "their build backends")
            out.append(f"RUN {mounts} \\\n    {senv}{uv} pip install --python {py} "
                       f"--no-deps --require-hashes --index-url {index} --find-links {wheels} "
                       f"-r {BUILD}/requirements/{name}")
    if plan.sources:
        mounts, senv = _mounts(plan)
        out.append("# built from source, fetched by the host: " + ", ".join(
            f"{g.name}@{g.commit[:12]}" if g.kind == "git" else f"{g.name} ({g.url})"
            for g in plan.sources))
        out.append(f"COPY {CONTEXT_SOURCES}/ {BUILD}/sources/")
        out.append(f"COPY {CONTEXT_BUILD_CONSTRAINTS}/sources.txt {constraints}/sources.txt")
        dirs = " ".join(f"{BUILD}/sources/{g.name}" for g in plan.sources)
        out.append(f"RUN {mounts} \\\n    {senv}{uv} pip install --python {py} --no-deps "
                   f"--build-constraints {constraints}/sources.txt {dirs}")
    pth = (f"mkdir -p {plan.app_dir} && echo {plan.app_dir} > "
           f"{plan.site_packages}/dockyard-app.pth \\\n && ") if plan.install_project else ""
    out.append("# no uv .lock, nothing writable by others; the digest keys the final stage's copy")
    out.append(f"RUN {pth}{py} {BUILD}/kernel/finish.py {ENV_DIGEST} {plan.prefix}")
    if plan.install_project and plan.app_build == "image":
        mounts, senv = _mounts(plan)
        out.append("# the project's own package: a platform-specific wheel, built here")
        out.append(f"COPY {CONTEXT_BUILD_CONSTRAINTS}/project.txt {constraints}/project.txt")
        out.append(f"COPY {CONTEXT_PROJECT}/ {BUILD}/project/")
        out.append(
            f"RUN {mounts} \\\n    {senv}{uv} build --python {py} --wheel "
            f"--build-constraints {constraints}/project.txt --require-hashes --out-dir "
            f"{BUILD}/dist {BUILD}/project \\\n && {uv} pip install --python {py} --no-deps "
            f"--target {plan.app_dir} {BUILD}/dist/*.whl \\\n && {py} {BUILD}/kernel/finish.py "
            f"- {plan.app_dir}"
        )
    return out


def containerfile(plan: BuildPlan) -> str:
    i = plan.interpreter
    owner = plan.owner
    out = [
        "# Generated by dockyard from dockyard.lock; do not edit (`dockyard build` renders it).",
        f"# lock inputs: {plan.lock_hash or '(none)'}",
        f"# base: {plan.base_ref}",
        f"# interpreter: {i.python} (Python {i.version}): {i.reason}",
        "",
        *_builder(plan),
        "",
        f"FROM {plan.base_from}",
        f"# the environment in one layer, owned by {plan.owner_names} (chown in the same step: "
        "no second copy); keyed on the builder's digest of it, so an unchanged environment "
        "reuses its layer without reading it again. The digest is the stage's first step: "
        "Podman takes the first cached image whose history matches a step, and a first "
        "step other builds share (USER root) may lead it into a chain made for another "
        "environment, where nothing below matches",
        # (its --chown also gives the folders it creates, /opt/dockyard, to that user, as
        # the engine-less assembly does)
        f"COPY --from=builder --chown={owner} {ENV_DIGEST} {plan.prefix}.digest",
        "USER root",
        f"RUN --mount=type=bind,from=builder,source={plan.prefix},target={ENV_MOUNT} \\\n"
        f"    mkdir -p {plan.prefix} && cp -a {ENV_MOUNT}/. {plan.prefix}/ \\\n"
        f" && chown -R {owner} {plan.prefix}",
        f"# kernel {plan.kernel.name!r}, where the base's Jupyter looks",
        f"COPY --from=builder {KERNEL_OUT}/ {plan.kernel.directory}/" if plan.conda
        else f"COPY kernel/kernel.json {plan.kernel.directory}/",
        f"COPY {CONTEXT_LOCK} {plan.lock_in_image}",
    ]
    if plan.install_project and plan.app_build == "host":
        out.append("# the project's own package, built as a wheel on the host and installed "
                   "there (not editable), last: a code change rebuilds this layer only")
        out.append(f"COPY --chown={owner} {CONTEXT_APP}/ {plan.app_dir}/")
    elif plan.install_project:
        out.append(f"COPY --from=builder --chown={owner} {plan.app_dir} {plan.app_dir}")
    if plan.env:
        out.append("ENV " + " \\\n    ".join(f"{k}={_q(v)}" for k, v in plan.env))
    out.append("LABEL " + " \\\n      ".join(f"{k}={_q(v)}" for k, v in plan.labels))
    out.append("# CMD and ENTRYPOINT are the base's: dockyard never sets them")
    out.append(f"USER {plan.base_user or 'root'}")
    return "\n".join(out) + "\n"


def is_environment_step(created_by: str, prefix: str) -> bool:
    """Whether a history entry's `created_by` is the final stage's step that put the
    environment at `prefix` (the digest-keyed copy; the COPY --from of earlier versions)."""
    created = created_by.rstrip()
    if f"target={ENV_MOUNT}" in created and f" {prefix}/" in created:
        return True
    # podman: "COPY dir:... in /opt/dockyard/env"; BuildKit: "COPY /opt/... /opt/... # ..."
    return "COPY" in created and (created.endswith(f" in {prefix}")
                                  or f" {prefix} {prefix}" in created)


def render(plan: BuildPlan) -> BuildContext:
    text = containerfile(plan)
    files = [
        ContextFile(CONTAINERFILE, text.encode()),
        ContextFile(".dockerignore", ("\n".join(DOCKERIGNORE_PATTERNS) + "\n").encode()),
        ContextFile("kernel/kernel.json", kernel_json(plan)),
    ]
    if plan.conda:
        files.append(ContextFile("kernel/activate.py",
                                 (Path(__file__).parent / "activate.py").read_bytes()))
    files.append(ContextFile("kernel/finish.py",
                             (Path(__file__).parent / "finish.py").read_bytes()))
    for name, (_, body) in requirements(plan).items():
        files.append(ContextFile(f"requirements/{name}", body.encode()))
    return BuildContext(
        containerfile=text,
        files=tuple(sorted(files, key=lambda f: f.path)),
        needs_conda_env=bool(plan.conda),
        needs_sources=tuple(g.name for g in plan.sources),
        needs_project=plan.install_project,
    )


__all__ = [
    "BUILD", "BUILDER_LABEL", "CONDA_ENV_FORMAT", "CONTAINERFILE", "CONTEXT_APP",
    "CONTEXT_BUILD_CONSTRAINTS", "CONTEXT_CONDA_ENV", "CONTEXT_LOCK", "CONTEXT_PROJECT",
    "CONTEXT_SOURCES", "CONTEXT_UV", "CONTEXT_WHEELS", "DOCKERIGNORE_PATTERNS", "BuildContext",
    "ContextFile", "conda_env_key", "containerfile", "is_environment_step", "kernel_json",
    "render", "requirements",
]
