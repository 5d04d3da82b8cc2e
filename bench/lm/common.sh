# Shared by bench/lm/run.sh and bench/lm/seeds.sh (sourced, not run): the default paths and the
# Release build of the xfmr binary both scripts time.
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=${XFMR_SHARED_DIR:-$root/../shared}
data=$shared/assets/wikitext-2
build=$root/build-lm-bench

require_wikitext() {  # require_wikitext DIR
  [ -f "$1/train.txt" ] || [ -f "$1/wiki.train.tokens" ] || { echo "no WikiText-2 in $1" >&2; exit 1; }
}

# build_xfmr BUILD_DIR JOBS: a fresh build folder is configured for Release; an existing one
# (e.g. --build build) is only rebuilt.
build_xfmr() {
  if [ ! -f "$1/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXFMR_BUILD_BENCH=OFF -DXFMR_BUILD_EXAMPLES=OFF \
      -DXFMR_BUILD_TESTS=OFF >/dev/null
  fi
  grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$1/CMakeCache.txt" || echo "warning: $1 is not a Release build" >&2
  cmake --build "$1" --target xfmr -j "$2" >/dev/null
}
