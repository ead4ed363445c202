#!/bin/sh
# Install ganforge into a virtual environment: the one install script the Dockerfile runs, layer by
# layer, and that CI (or anyone) runs in a fresh environment to check the same steps.
#
#   docker/install.sh [STEP...]     steps, in order: system deps project check (default: all four)
#     system   Python with venv support (apt-get, only where it is missing: the CUDA base has none)
#     deps     the virtual environment, PyTorch, and every dependency in pyproject.toml (+ EXTRAS)
#     project  ganforge itself from SRC, without dependencies (a small layer over deps)
#     check    `ganforge --version` and an import of every extra's modules
#
# Settings (environment):
#   VENV         the virtual environment             (default /opt/ganforge/venv)
#   SRC          the project: pyproject.toml, src/   (default: this script's parent folder)
#   EXTRAS       optional dependency groups          (default export,hub,hf,notebook)
#   TORCH        pip requirement for PyTorch         (default torch)
#   TORCH_INDEX  a PyTorch wheel index, e.g. https://download.pytorch.org/whl/cpu or .../cu128;
#                "pypi" or empty: PyPI and pip's own settings (find-links, extra indexes)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
VENV=${VENV:-/opt/ganforge/venv}
SRC=${SRC:-$(dirname "$here")}
EXTRAS=${EXTRAS-export,hub,hf,notebook}
TORCH=${TORCH:-torch}
TORCH_INDEX=${TORCH_INDEX:-${GANFORGE_TORCH_INDEX:-pypi}}
PY=${PYTHON:-python3}
PIP="$VENV/bin/python -m pip --no-cache-dir --disable-pip-version-check"

say() { printf 'install.sh: %s\n' "$*"; }

step_system() {
    if "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || { say "no python3 with venv and no apt-get: install Python >= 3.10 first"; exit 1; }
    say "installing python3 and python3-venv with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends python3 python3-venv ca-certificates
    rm -rf /var/lib/apt/lists/*
}

step_deps() {
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    if [ "$TORCH_INDEX" = pypi ]; then
        say "PyTorch: $TORCH"
        $PIP install -q "$TORCH"
    else
        say "PyTorch: $TORCH from $TORCH_INDEX"
        $PIP install -q --index-url "$TORCH_INDEX" "$TORCH"
    fi
    # the dependencies named in pyproject.toml, read without building the project, so this layer
    # changes only when pyproject.toml does (extras may name ganforge[...] itself: followed)
    reqs=$(mktemp)
    "$VENV/bin/python" - "$SRC/pyproject.toml" "$EXTRAS" >"$reqs" <<'PYEOF'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
extras = project.get("optional-dependencies", {})
wanted, seen, out = [e for e in sys.argv[2].split(",") if e], set(), list(project["dependencies"])
while wanted:
    e = wanted.pop()
    if e in seen:
        continue
    if e not in extras:
        sys.exit(f"install.sh: unknown extra {e!r}; pyproject.toml has {sorted(extras)}")
    seen.add(e)
    for req in extras[e]:
        m = re.fullmatch(r"\s*ganforge\[([^\]]+)\]\s*", req)
        if m:
            wanted += [x.strip() for x in m.group(1).split(",")]
        else:
            out.append(req)
print("\n".join(r for r in dict.fromkeys(out) if not re.match(r"\s*torch\b(?![-_])", r)))
PYEOF
    say "dependencies: $(tr '\n' ' ' <"$reqs")"
    $PIP install -q -r "$reqs"
    rm -f "$reqs"
}

step_project() {
    say "ganforge from $SRC"
    $PIP install -q --no-deps "$SRC"
}

step_check() {
    "$VENV/bin/ganforge" --version
    mods="ganforge.cli ganforge.web ganforge.export"
    case ",$EXTRAS," in *,hub,*) mods="$mods huggingface_hub" ;; esac
    case ",$EXTRAS," in *,hf,*) mods="$mods huggingface_hub pyarrow" ;; esac
    case ",$EXTRAS," in *,export,*) mods="$mods onnxruntime onnxscript" ;; esac
    case ",$EXTRAS," in *,notebook,*) mods="$mods jupyterlab nbclient ipykernel" ;; esac
    for m in $mods; do
        "$VENV/bin/python" -c "import $m" || { say "cannot import $m"; exit 1; }
    done
    say "ok: $VENV"
}

[ $# -gt 0 ] || set -- system deps project check
for step in "$@"; do
    case $step in
        system | deps | project | check) "step_$step" ;;
        *) say "unknown step $step (system, deps, project, check)"; exit 2 ;;
    esac
done
