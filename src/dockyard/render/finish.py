"""Run last in the builder stage: tidy the environments it made, and write their digest.

    python finish.py DIGEST_OUT DIR [DIR ...]     (DIGEST_OUT "-": tidy only)

- removes uv's `.lock` file (mode 666) and the write permission of others on every
  file and folder (an environment any user can write is one any user can change), and
  the `CACHEDIR.TAG` that uv and rattler put at an environment's root (backup tools and
  `tar --exclude-caches` would skip the whole environment);
- writes the sha256 of what the folders hold: every path with its type, size, mode and
  link target, and the content of the records that list every file's hash (dist-info
  RECORD, conda-meta/*.json, pyvenv.cfg). The final stage copies the environment in a
  RUN whose cache key is this digest: the same environment reuses its layer without
  reading gigabytes again, a different one is copied anew.
Standard library only: it runs with the environment's own interpreter.
"""

import hashlib
import os
import stat
import sys

RECORDS = ("RECORD", "pyvenv.cfg")


def tidy(top):
    for name in (".lock", "CACHEDIR.TAG"):
        path = os.path.join(top, name)
        if os.path.isfile(path) and not os.path.islink(path):
            os.unlink(path)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames + ([""] if dirpath == top else []):
            path = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & stat.S_IWOTH:
                os.chmod(path, stat.S_IMODE(st.st_mode) & ~stat.S_IWOTH)


def digest(tops):
    h = hashlib.sha256()
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                rel = os.path.relpath(path, top)
                link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
                size = st.st_size if stat.S_ISREG(st.st_mode) else 0
                h.update(f"{top}\0{rel}\0{st.st_mode:o}\0{size}\0{link}\n".encode())
                if stat.S_ISREG(st.st_mode) and (name in RECORDS or (
                        name.endswith(".json") and os.path.basename(dirpath) == "conda-meta")):
                    with open(path, "rb") as fh:
                        h.update(fh.read())
    return h.hexdigest()


def main(out, *tops):
    for top in tops:
        tidy(top)
    if out == "-":
        return
    value = digest(tops)
    with open(out, "w") as fh:
        fh.write(value + "\n")
    os.utime(out, (315532800, 315532800))
    print("environment digest:", value)


if __name__ == "__main__":
    main(*sys.argv[1:])
