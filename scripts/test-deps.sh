#!/usr/bin/env bash
# The Debian packages the tests talk to for real: mosquitto (external-broker interop), chromium (dashboard browser
# tests), openssl (TLS test certificates); with --slow also what the firmware targets and their emulated
# cross-architecture test need: qemu-user-static with the arm cross libcs, llvm (llvm-strip for every
# architecture), xz-utils, and the mips64el/mipsel architectures so `apt-get download` can fetch Debian's Node 18.
# Installs what is missing when run as root on Debian/Ubuntu; otherwise says what to install. Quick when all is there.
set -euo pipefail

need=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v chromium >/dev/null || need+=(chromium)
command -v openssl >/dev/null || need+=(openssl)
archs=()
if [ "${1:-}" = "--slow" ]; then
  command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
  [ -d /usr/aarch64-linux-gnu/lib ] || need+=(libc6-arm64-cross libstdc++6-arm64-cross)
  [ -d /usr/arm-linux-gnueabihf/lib ] || need+=(libc6-armhf-cross libstdc++6-armhf-cross libatomic1-armhf-cross)
  command -v llvm-strip >/dev/null || need+=(llvm)
  command -v xz >/dev/null || need+=(xz-utils)
  foreign=$(dpkg --print-foreign-architectures 2>/dev/null || true)
  for arch in mips64el mipsel; do grep -qx "$arch" <<<"$foreign" || archs+=("$arch"); done
fi
[ ${#need[@]} -eq 0 ] && [ ${#archs[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "The tests need these Debian packages: ${need[*]:-}${archs[*]:+ (and dpkg architectures ${archs[*]})}." >&2
  echo "Install them, e.g.: sudo apt-get install -y ${need[*]:-}" >&2
  [ ${#archs[@]} -eq 0 ] || echo "and: sudo dpkg --add-architecture ${archs[*]} && sudo apt-get update" >&2
  exit 1
fi
for arch in "${archs[@]}"; do dpkg --add-architecture "$arch"; done
apt-get update -qq
[ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
