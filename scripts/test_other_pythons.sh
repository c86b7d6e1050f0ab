#!/usr/bin/env bash
# Run the whole test suite again under Python 3.10 (SCF's newest runtime) and 3.12 (Lambda's),
# each in its own virtualenv (.venv-3.10, .venv-3.12). An interpreter that is not installed is
# skipped with a notice — except under CI, where it is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local version=$1 candidate
  if command -v pyenv >/dev/null 2>&1; then
    candidate=$(pyenv versions --bare 2>/dev/null | grep -E "^${version//./\\.}(\.[0-9]+)?$" | tail -n 1 || true)
    if [ -n "$candidate" ] && [ -x "$(pyenv root)/versions/$candidate/bin/python$version" ]; then
      echo "$(pyenv root)/versions/$candidate/bin/python$version"
      return
    fi
  fi
  command -v "python$version" 2>/dev/null || true
}

for version in ${OTHER_PYTHONS:-3.10 3.12}; do
  python=$(find_python "$version")
  if [ -z "$python" ] || ! "$python" -c pass >/dev/null 2>&1; then
    echo "Python $version is not installed: the suite was not run on it."
    if [ -n "${CI:-}" ]; then exit 1; fi
    continue
  fi
  venv=".venv-$version"
  if [ ! -f "$venv/.installed" ] || [ requirements-dev.txt -nt "$venv/.installed" ] \
       || [ requirements.txt -nt "$venv/.installed" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r requirements-dev.txt
    touch "$venv/.installed"
  fi
  echo "== the test suite on $("$venv/bin/python" --version)"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-}
done
