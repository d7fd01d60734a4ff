"""The shell script run inside a base image to learn its facts.

POSIX sh only (a base may have no Python, no bash, no Jupyter): each section
starts with a `@@name` line and is parsed by `dockyard.probe.parse`.
Errors are silenced on purpose: a missing tool is a fact ("no jupyter"),
not a failure.
"""

PROBE_SCRIPT = r"""
exec 2>/dev/null
echo '@@os'
cat /etc/os-release || cat /usr/lib/os-release
echo '@@glibc'
getconf GNU_LIBC_VERSION || ldd --version | head -n 1
echo '@@libc'
ls -1 /lib/x86_64-linux-gnu/libc.so.6 /lib/aarch64-linux-gnu/libc.so.6 /lib64/libc.so.6 \
  /usr/lib64/libc.so.6 /lib/libc.so.6 /lib/x86_64-linux-gnu/libc-*.so /lib64/libc-*.so \
  /lib/ld-musl-*.so.1
echo '@@id'
echo "uid=$(id -u)"
echo "gid=$(id -g)"
echo "name=$(id -un)"
echo "home=$HOME"
echo '@@passwd'
cat /etc/passwd
echo '@@group'
cat /etc/group
echo '@@pythons'
cands=$(IFS=:; for d in $PATH; do ls -d "$d"/python "$d"/python3 "$d"/python3.*; done)
for p in $cands /opt/*/bin/python3* /opt/*/*/bin/python3* \
    /usr/local/bin/python3* /usr/bin/python3*; do
  case "$p" in *-config|*.py|*-gdb*) continue;; esac
  [ -f "$p" ] && [ -x "$p" ] || continue
  info=$("$p" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3], sys.prefix,
    sys.implementation.name, getattr(sys, "abiflags", ""), sep="\t")') || continue
  [ -n "$info" ] && printf '%s\t%s\t%s\n' "$p" "$(readlink -f "$p")" "$info"
done
echo '@@jupyter'
j=$(command -v jupyter)
if [ -n "$j" ]; then
  echo "path=$j"
  echo "shebang=$(head -n 1 "$j")"
  echo '@@jupyter-paths'
  jupyter --paths --json
fi
echo '@@cuda'
echo "env=$CUDA_VERSION"
ls -1d /usr/local/cuda /usr/local/cuda-*
ls -1 /usr/local/cuda*/lib64/libcudart.so.* /usr/local/cuda*/targets/*/lib/libcudart.so.*
ls -1 /usr/local/cuda*/lib64/lib*.so.* /usr/local/cuda*/targets/*/lib/lib*.so.* \
  /usr/lib/x86_64-linux-gnu/libcudnn*.so.* /usr/lib/x86_64-linux-gnu/libnccl*.so.*
echo '@@cuda-json'
cat /usr/local/cuda/version.json
echo '@@tools'
for t in uv pip pip3 conda mamba micromamba gcc cc git; do
  p=$(command -v "$t") && echo "$t=$p"
done
echo '@@end'
"""
