#!/usr/bin/env bash
# Installs the Debian 12 packages xfmr needs that are not installed yet (see docs/dependencies.md).
# Runs apt-get only when something is missing; needs root (or sudo) in that case.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libdnnl-dev            # GEMM: oneDNN matmul primitive (measured fastest here, docs/performance.md)
  nlohmann-json3-dev     # JSON: config.json, tokenizer.json, fixtures
  libcli11-dev           # command-line parsing
  libutf8proc-dev        # Unicode normalisation (NFC/NFD/NFKC/NFKD) and categories for tokenizers
  libonig-dev            # Oniguruma regexes (the engine HF tokenizers uses: look-ahead, \p{L})
  libsentencepiece-dev   # SentencePiece .model files (T5, ALBERT, Marian)
  libcurl4-openssl-dev   # HuggingFace hub downloads
  libgtest-dev libgmock-dev libbenchmark-dev   # tests and benchmarks
  clang libclang-rt-14-dev                     # libFuzzer targets
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "xfmr: installing missing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
