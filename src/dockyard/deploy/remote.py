"""The POSIX sh steps a deploy runs on each host (pure: text from paths and ids).

On a host, `--prefix ROOT` holds one directory per pack id and two links:

    ROOT/<pack id>/      an environment, installed for exactly that path
    ROOT/current  ->     the one in use (`ROOT/current/bin/python`, `. ROOT/current/activate`)
    ROOT/previous ->     the one before it, kept for `dockyard deploy --rollback`

Links are switched by rename(2) of a new link over the old one (atomic: a
reader sees the old or the new environment, never neither). Other versions
are removed after a switch.
"""

from __future__ import annotations

import shlex

CHECK_MARK = "@@DOCKYARD-CHECK-JSON@@"
# A step stopped by a signal, or by its lost client (a write to the closed connection
# raises SIGPIPE), still runs its EXIT trap: what it was making is removed.
_TRAPS = """\
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
"""

_SWAP = """\
swap() {  # swap NAME TARGET: point ROOT/NAME at TARGET, atomically
  tmp=".$1.new.$$"
  rm -f "$tmp"
  ln -s "$2" "$tmp"
  "$py" -c 'import os, sys; os.replace(sys.argv[1], sys.argv[2])' "$tmp" "$1"
}
"""


def _head(root: str, pack_id: str = "") -> str:
    return f"set -eu\nroot={shlex.quote(root)}\nid={shlex.quote(pack_id)}\n"


def state(root: str, pack_id: str) -> str:
    """key=value lines: the host's system, the links, whether `pack_id` is there."""
    return _head(root, pack_id) + """\
printf 'system=%s\\n' "$(uname -sm)"
mkdir -p "$root" 2>/dev/null || true
[ -d "$root" ] && [ -w "$root" ] && printf 'writable=1\\n'
for link in current previous; do
  if [ -L "$root/$link" ]; then printf '%s=%s\\n' "$link" "$(readlink "$root/$link")"
  elif [ -e "$root/$link" ]; then printf '%s_not_a_link=1\\n' "$link"; fi
done
[ -f "$root/$id/.dockyard/pack.json" ] && printf 'have=1\\n'
exit 0
"""


def install(root: str, pack_id: str, size: int) -> str:
    """Standard input is the pack (`size` bytes): keep it beside ROOT, unpack it into
    ROOT/<id>, no check. A copy cut short (the client stopped, the link dropped) is
    removed, never unpacked; so is the copy when this script is stopped."""
    return _head(root, pack_id) + f"size={int(size)}\n" + """\
cd "$root"
rm -rf "./$id" ./."$id".dockyard-partial.* ./.incoming-*.part
part=".incoming-$id.sh.part"
trap 'rm -f "$part" ".incoming-$id.sh"' EXIT
""" + _TRAPS + """\
cat > "$part"
got=$(wc -c < "$part" | tr -d ' ')
if [ "$got" != "$size" ]; then
  echo "error: the pack arrived incomplete ($got of $size bytes)" >&2
  exit 3
fi
mv "$part" ".incoming-$id.sh"
sh ".incoming-$id.sh" --prefix "$root/$id" --no-check
"""


def check(root: str, pack_id: str) -> str:
    """The environment's self-check (its lines on stderr), then its JSON report on stdout."""
    return _head(root, pack_id) + f"""\
report="$root/.check-$id.$$.json"
trap 'rm -f "$report" "$report.tmp"' EXIT
{_TRAPS}status=0
sh "$root/$id/.dockyard/dockyard-env" check --json "$report" >&2 || status=$?
printf '%s\\n' {shlex.quote(CHECK_MARK)}
cat "$report" 2>/dev/null || true
exit $status
"""


def inventory(root: str, pack_id: str) -> str:
    """Standard input is dockyard's inventory.py; run it with the environment's python."""
    return _head(root, pack_id) + """\
exec "$root/$id/bin/python" - --prefix "$root/$id" --lock "$root/$id/.dockyard/dockyard.lock"
"""


def switch(root: str, pack_id: str) -> str:
    """previous := current, current := <id>; then remove every other version."""
    return _head(root, pack_id) + _SWAP + """\
cd "$root"
[ -f "$id/.dockyard/pack.json" ] || { echo "no environment $root/$id" >&2; exit 3; }
py="$root/$id/bin/python"
cur=$(readlink current 2>/dev/null || true)
if [ "$cur" != "$id" ]; then
  [ -n "$cur" ] && swap previous "$cur"
  swap current "$id"
fi
prev=$(readlink previous 2>/dev/null || true)
for d in ./*; do
  d=${d#./}
  [ -d "$d" ] && [ ! -L "$d" ] && [ -f "$d/.dockyard/pack.json" ] || continue
  [ "$d" = "$id" ] || [ "$d" = "$prev" ] || rm -rf "./$d"
done
printf 'current=%s\\nprevious=%s\\n' "$(readlink current)" "$prev"
"""


def rollback(root: str, pack_id: str) -> str:
    """current := previous (`pack_id`, checked by the caller), previous := the old current."""
    return _head(root, pack_id) + _SWAP + """\
cd "$root"
cur=$(readlink current 2>/dev/null || true)
[ "$(readlink previous 2>/dev/null || true)" = "$id" ] || { echo "previous changed" >&2; exit 3; }
py="$root/$id/bin/python"
swap current "$id"
[ -n "$cur" ] && swap previous "$cur"
printf 'current=%s\\nprevious=%s\\n' "$(readlink current)" "$(readlink previous)"
"""
