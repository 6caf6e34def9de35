# Sourced by the ensure-*.sh scripts: installs Debian packages with apt-get,
# as root or through password-less sudo, updating the package lists first
# when they lack the package (a fresh container) or are stale.
#   apt_install NAME PACKAGE...   (NAME prefixes the messages)

apt_fail() {
  echo "$APT_NAME: $*" >&2
  echo "$APT_NAME: install ${APT_PACKAGES[*]} yourself and re-run" >&2
  exit 1
}

apt_install() {
  APT_NAME=$1
  shift
  APT_PACKAGES=("$@")
  command -v apt-get >/dev/null 2>&1 || apt_fail "this system has no apt-get"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      apt_fail "installing ${APT_PACKAGES[*]} needs root (or password-less sudo)"
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "$APT_NAME: installing ${APT_PACKAGES[*]}" >&2
  if ! apt-cache policy "${APT_PACKAGES[0]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    "${sudo[@]}" apt-get update -q || apt_fail "apt-get update failed"
  fi
  if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"; then
    "${sudo[@]}" apt-get update -q || apt_fail "apt-get update failed"
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}" \
      || apt_fail "apt-get install ${APT_PACKAGES[*]} failed"
  fi
}
