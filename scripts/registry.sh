# Shared by scripts/fetch-*.sh (sourced, not run): finding pip and checking
# what came from a registry by sha256. The caller sets $tool (its own name,
# for messages) before sourcing.

sha_ok() { # file expected-sha
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

check() { # file expected-sha label
  local got
  if [ ! -f "$1" ]; then
    echo "$tool: $3 is missing after download/extraction ($1)" >&2
    exit 1
  fi
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$2" ]; then
    echo "$tool: sha256 mismatch for $3: expected $2, got $got; refusing to use it" >&2
    exit 1
  fi
}

# Sets $pip to a working pip, and checks unzip; exits with a clear message.
need_pip_and_unzip() {
  pip=""
  for candidate in pip3 pip; do
    if command -v "$candidate" >/dev/null 2>&1; then pip="$candidate"; break; fi
  done
  if [ -z "$pip" ]; then
    if python3 -m pip --version >/dev/null 2>&1; then pip="python3 -m pip"; else
      echo "$tool: pip is needed (apt-get install python3-pip)" >&2
      exit 1
    fi
  fi
  command -v unzip >/dev/null 2>&1 || { echo "$tool: unzip is needed (apt-get install unzip)" >&2; exit 1; }
}
