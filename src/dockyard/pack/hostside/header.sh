#!/bin/sh
# A Python environment packed by dockyard from dockyard.lock: a POSIX sh script followed
# by a gzip'd tar. It needs sh, tar and gzip on the host; nothing else (no conda,
# no network, no dockyard).
#   sh THIS --prefix /opt/envs/app [--kernel[=NAME]] [--no-check] [--json FILE]
#   sh THIS --info | --tarball FILE | --help
set -eu
PACK_ID='@PACK_ID@'
PROJECT='@PROJECT@'
PLATFORM='@PLATFORM@'
ARCH='@ARCH@'
GLIBC='@GLIBC@'
MAX_PREFIX=@MAX_PREFIX@
PAYLOAD_SIZE=@PAYLOAD_SIZE@
PAYLOAD_SHA256='@PAYLOAD_SHA256@'
PAYLOAD_OFFSET=@PAYLOAD_OFFSET@  # bytes of this header: the payload follows

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $1"; [ -n "${2:-}" ] && say "  hint: $2"; exit "${3:-2}"; }
usage() {
  cat <<EOF
$PROJECT environment, pack $PACK_ID ($PLATFORM, glibc >= $GLIBC)

usage: sh $0 --prefix DIR [--kernel[=NAME]] [--no-check] [--json FILE]
       sh $0 --info | --tarball FILE

  --prefix DIR      install here (absolute or relative; must not exist, or be empty)
  --kernel[=NAME]   then register it as a kernel of the Jupyter on PATH (--user)
  --no-check        skip the self-check (imports and versions, as dockyard verify)
  --json FILE       write the self-check's report as JSON
  --info            what the pack holds
  --tarball FILE    write the plain .tar.gz inside this script to FILE
EOF
}

payload() { tail -c +"$((PAYLOAD_OFFSET + 1))" "$0"; }

prefix='' kernel='' check=1 json='' info='' tarball=''
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift ;;
    --prefix=*) prefix=${1#--prefix=} ;;
    --kernel) kernel=' ' ;;
    --kernel=*) kernel=${1#--kernel=} ;;
    --no-check) check=0 ;;
    --json) [ $# -ge 2 ] || die "--json needs a file"; json=$2; shift ;;
    --json=*) json=${1#--json=} ;;
    --info) info=1 ;;
    --tarball) [ $# -ge 2 ] || die "--tarball needs a file"; tarball=$2; shift ;;
    --tarball=*) tarball=${1#--tarball=} ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

if [ -n "$info" ]; then
  printf 'project: %s\npack: %s\nplatform: %s (%s, glibc >= %s)\npayload: %s bytes, sha256 %s\n' \
    "$PROJECT" "$PACK_ID" "$PLATFORM" "$ARCH" "$GLIBC" "$PAYLOAD_SIZE" "$PAYLOAD_SHA256"
  [ "$MAX_PREFIX" -gt 0 ] && printf 'longest prefix: %s characters\n' "$MAX_PREFIX"
  exit 0
fi

# The payload's size is checked before anything is written (wc -c of a file reads no data);
# its sha256 while it is extracted (one read: tee into a fifo), or on its own for --tarball.
check_size() {
  size=$(($(wc -c < "$0") - PAYLOAD_OFFSET))
  [ "$size" = "$PAYLOAD_SIZE" ] || die "this pack is truncated or damaged: its payload has \
$size bytes, $PAYLOAD_SIZE expected" "copy it again (its sha256 is $PAYLOAD_SHA256)"
}
check_sum() {  # check_sum SUM: the payload's sha256 as computed ("" when it could not be)
  [ -z "$1" ] || [ "$1" = "$PAYLOAD_SHA256" ] || die "this pack is damaged: its payload's \
sha256 is $1, $PAYLOAD_SHA256 expected" "copy it again"
}
payload_sum() {
  if command -v sha256sum >/dev/null 2>&1; then payload | sha256sum | cut -d' ' -f1; fi
}

if [ -n "$tarball" ]; then
  check_size
  check_sum "$(payload_sum)"
  payload > "$tarball.part" && mv "$tarball.part" "$tarball"
  say "wrote $tarball"
  exit 0
fi

[ -n "$prefix" ] || { usage >&2; die "give --prefix DIR (where to install the environment)"; }

# The host: the lock's platform, a new enough glibc.
machine=$(uname -m 2>/dev/null || echo unknown)
[ "$(uname -s 2>/dev/null)" = Linux ] && [ "$machine" = "$ARCH" ] || \
  die "this pack is for $PLATFORM ($ARCH Linux); this host is $(uname -s 2>/dev/null) $machine" \
      "pack for this platform ([target] platform in dockyard.toml)"
if glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null); then
  glibc=${glibc#glibc }
  older=$(printf '%s\n%s\n' "$GLIBC" "$glibc" | sort -t. -k1,1n -k2,2n | head -n 1)
  [ "$older" = "$GLIBC" ] || die "this host's glibc is $glibc; the environment needs $GLIBC or newer" \
    "lock for an older glibc ([target] glibc in dockyard.toml) or use a newer host"
fi

# The prefix: absolute, new (or an empty directory), short enough for the binary files.
case $prefix in
  /*) ;;
  *) prefix="$(pwd -P)/$prefix" ;;
esac
while [ "$prefix" != / ] && [ "${prefix%/}" != "$prefix" ]; do prefix=${prefix%/}; done
case $prefix in
  *[!A-Za-z0-9/._+@%,:=-]*) die "the prefix '$prefix' has characters the environment's scripts \
cannot carry safely" "use letters, digits and / . _ - + @ % , : =" ;;
esac
[ "$prefix" != / ] || die "the prefix cannot be /"
if [ "$MAX_PREFIX" -gt 0 ] && [ "${#prefix}" -gt "$MAX_PREFIX" ]; then
  die "the prefix $prefix is ${#prefix} characters long; this environment's binary files have \
room for $MAX_PREFIX" "choose a shorter prefix"
fi
if [ -e "$prefix" ] || [ -L "$prefix" ]; then
  if [ -d "$prefix" ] && [ ! -L "$prefix" ] && [ -z "$(ls -A "$prefix")" ]; then
    rmdir "$prefix" || die "cannot replace the empty directory $prefix"
  else
    die "$prefix already exists: an environment is installed once per prefix" \
        "remove it first, or choose another prefix (dockyard deploy keeps versions side by side)"
  fi
fi
parent=$(dirname "$prefix")
mkdir -p "$parent" 2>/dev/null || die "cannot create $parent" "check the permissions"
[ -w "$parent" ] || die "$parent is not writable by $(id -un 2>/dev/null || id -u)" \
  "choose a prefix you may write to, or run as its owner"

check_size
staging="$parent/.$(basename "$prefix").dockyard-partial.$$"
fifo="$staging.sha256"
cleanup() { rm -rf "$staging" "$fifo" "$fifo.sum"; }
trap cleanup EXIT
trap 'cleanup; exit 129' HUP
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 141' PIPE
trap 'cleanup; exit 143' TERM
mkdir "$staging"
say "unpacking $PROJECT ($PACK_ID) into $prefix"
extract() {
  if command -v gzip >/dev/null 2>&1; then gzip -dc | tar -xf - -C "$staging"
  else tar -xzf - -C "$staging"; fi
}
hashing=''
if command -v sha256sum >/dev/null 2>&1 && mkfifo "$fifo" 2>/dev/null; then
  sha256sum < "$fifo" > "$fifo.sum" &
  hashing=$!
fi
status=0
if [ -n "$hashing" ]; then
  payload | tee "$fifo" | extract || status=$?
else
  payload | extract || status=$?
fi
sum=''
if [ -n "$hashing" ]; then
  if [ "$status" = 0 ]; then
    wait "$hashing" || true
    sum=$(cut -d' ' -f1 < "$fifo.sum")
  else  # tee may have stopped early: its sum says nothing; read the payload again
    kill "$hashing" 2>/dev/null || true
    wait "$hashing" 2>/dev/null || true
  fi
fi
[ "$status" = 0 ] || sum=$(payload_sum)
rm -f "$fifo" "$fifo.sum"
check_sum "$sum"
[ "$status" = 0 ] || die "unpacking into $staging failed (tar exit $status)" \
  "see tar's message above (disk full? permissions?)"
sh "$staging/.dockyard/dockyard-env" relocate --to "$prefix" --quiet
mv "$staging" "$prefix"
trap - EXIT HUP INT PIPE TERM
say "installed $prefix (activate it with: . $prefix/activate)"

status=0
if [ "$check" = 1 ]; then
  if [ -n "$json" ]; then
    sh "$prefix/.dockyard/dockyard-env" check --json "$json" || status=$?
  else
    sh "$prefix/.dockyard/dockyard-env" check || status=$?
  fi
  if [ "$status" != 0 ]; then
    say "the environment at $prefix failed its self-check (kept for inspection: rm -rf it to undo)"
    exit 1
  fi
fi
if [ -n "$kernel" ]; then
  if [ "$kernel" = ' ' ]; then
    sh "$prefix/.dockyard/dockyard-env" kernel
  else
    sh "$prefix/.dockyard/dockyard-env" kernel --name "$kernel"
  fi
fi
exit 0
