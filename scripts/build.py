"""Build the deployable packages: one folder and one reproducible zip per function and cloud.

    python scripts/build.py [--cloud aws|scf|cloudbase|all] [--function NAME]... [--with-postgres]

Layout produced (under `--out`, default `build/`):

    build/aws/<fn>/        functions/<fn>/handler.py + shared/ + deps   (Lambda handler
    build/aws/<fn>.zip       `functions/<fn>/handler.handler`, Python 3.12)
    build/scf/<fn>/        handler.py at the root + shared/ + deps      (SCF / CloudBase handler
    build/scf/<fn>.zip       `handler.main_handler`, Python 3.10)
    build/cloudbase/<fn>/  the same as scf, for `tcb fn deploy`
    build/<cloud>/postgres-layer.zip   with `--with-postgres`: psycopg as a layer (see below)
    build/<cloud>/manifest.json   sizes and sha256 of every zip

Runtime dependencies (`requirements.txt`) are installed by the TARGET interpreter's own pip, so
environment markers (e.g. `exceptiongroup` on Python < 3.11) are evaluated for the runtime that
will import them. They are installed once per target into a cache folder (`--cache-dir`, default
`build/.cache`) and reused by every function.
Zips have sorted entries, fixed timestamps and fixed permissions: the same inputs give the same bytes.

PostgreSQL's driver (`requirements-postgres.txt`: psycopg with its bundled libpq, ~4 MB zipped) is
not put into the function zips, which stay the same under 5 MB: `--with-postgres` builds it as a
layer that every function of a cloud shares, laid out where that platform mounts layers on its
path (Lambda: `/opt/python`, so under `python/`; SCF and CloudBase: `/opt`, so at the root).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("send_single", "send_multi", "pull_status", "status_callback", "otp")
CLOUDS = ("aws", "scf", "cloudbase")
TARGET_PYTHON = {"aws": "3.12", "scf": "3.10", "cloudbase": "3.10"}
RUNTIME_LABEL = {"aws": "python3.12", "scf": "Python3.10", "cloudbase": "Python3.10"}
DEFAULT_MAX_ZIP_MB = 5.0
POSTGRES_LAYER = "postgres-layer"
LAYER_PATH = {"aws": "python", "scf": "", "cloudbase": ""}  # where the platform looks under /opt
MB = 1024 * 1024  # sizes are reported in MiB (2**20 bytes), as the platforms' limits count them
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
CACHE_FORMAT = "2+pyc"  # bump when the install or prune steps change

# Left out of every package: bytecode (the runtime compiles on import), type stubs, console
# scripts, and pip's bookkeeping that only matters for uninstalling.
PRUNE_SUFFIXES = (".pyc", ".pyo", ".pyi")
PRUNE_DIST_INFO = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
SOURCE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".DS_Store", ".mypy_cache")


class BuildError(Exception):
    """A build step failed; the message says what to do."""


@dataclass(frozen=True)
class Interpreter:
    """A Python to run pip with: the command and the environment it needs (e.g. PYENV_VERSION)."""

    argv: tuple[str, ...]
    env: dict[str, str]
    version: str  # full version, e.g. "3.12.1"

    def run(self, *args: str, quiet: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *args], env=self.env, check=False, text=True, capture_output=quiet)


@dataclass
class Package:
    """One built function package."""

    cloud: str
    function: str
    folder: Path
    zip_path: Path
    zip_bytes: int = 0
    unzipped_bytes: int = 0
    files: int = 0
    sha256: str = ""
    python: str = ""
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- interpreters


def _probe(argv: Sequence[str], env: dict[str, str], want: str) -> Interpreter | None:
    """The interpreter at `argv` if it runs, is Python `want` (major.minor) and has pip."""
    code = "import sys, pip; print('.'.join(map(str, sys.version_info[:3])))"
    try:
        done = subprocess.run(
            [*argv, "-c", code], env=env, capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    if done.returncode != 0 or not version.startswith(want + "."):
        return None
    return Interpreter(tuple(argv), env, version)


def _pyenv_versions(want: str) -> list[str]:
    """Installed pyenv versions `want`.x, newest first ([] without pyenv)."""
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return []
    done = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False)
    found = [v.strip() for v in done.stdout.splitlines() if v.strip().startswith(want + ".")]
    found = [v for v in found if v.replace(want + ".", "", 1).isdigit()]
    return sorted(found, key=lambda v: int(v.rsplit(".", 1)[1]), reverse=True)


def find_interpreter(want: str, explicit: str | None = None) -> Interpreter:
    """Python `want` (e.g. "3.10") with pip: `explicit`, this Python, `pythonX.Y`, or pyenv's."""
    base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYENV_VERSION")}
    candidates: list[tuple[list[str], dict[str, str]]] = []
    if explicit:
        candidates.append(([explicit], base_env))
    else:
        if "{}.{}".format(*sys.version_info[:2]) == want:
            candidates.append(([sys.executable], base_env))
        for version in _pyenv_versions(want):
            candidates.append(([f"python{want}"], {**base_env, "PYENV_VERSION": version}))
        if shutil.which(f"python{want}"):
            candidates.append(([f"python{want}"], base_env))
    for argv, env in candidates:
        found = _probe(argv, env, want)
        if found:
            return found
    where = f"--{'aws' if want == '3.12' else 'tencent'}-python"
    raise BuildError(
        f"Python {want} with pip is needed to install the dependencies for this target (they must be "
        f"installed by the interpreter that will run them), and none was found"
        + (f" at {explicit}" if explicit else f" (tried python{want} on PATH and pyenv)")
        + f". Install it (e.g. `pyenv install {want}`) or pass {where} /path/to/python{want}."
    )


# ---------------------------------------------------------------- dependencies


def requirement_files(requirements: Sequence[Path] | None = None) -> list[Path]:
    """The functions' requirement files: `requirements` (default requirements.txt)."""
    files = [Path(f).resolve() for f in requirements] if requirements else [ROOT / "requirements.txt"]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise BuildError(f"requirements file {missing[0]} does not exist")
    return files


def _cross_platform_args() -> list[str]:
    """pip flags that fetch Linux x86_64 wheels when the build machine is something else."""
    if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64"):
        return []
    return ["--platform", "manylinux2014_x86_64", "--implementation", "cp"]


def prune(folder: Path) -> None:
    """Remove bytecode, stubs, console scripts, packages' own test suites and pip bookkeeping."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.exists() and not path.is_symlink():
            continue
        top_level = path.parent == folder
        if path.is_dir() and (
            path.name == "__pycache__"
            or (top_level and path.name == "bin")
            or (path.parent.parent == folder and path.name == "tests")
        ):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and (
            path.suffix in PRUNE_SUFFIXES
            or (path.parent.name.endswith(".dist-info") and path.name in PRUNE_DIST_INFO)
        ):
            path.unlink()


def compile_bytecode(interpreter: Interpreter, path: Path) -> None:
    """Ship bytecode made by the target interpreter: Lambda and SCF cannot write `__pycache__` (a
    read-only code folder), so without it every cold start compiles every module it imports.
    Unchecked-hash pycs are reproducible and never go stale against the source beside them."""
    done = interpreter.run(
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(path.parent if path.is_file() else path),
        str(path),
        quiet=True,
    )
    if done.returncode != 0:
        raise BuildError(f"compiling {path.name} with Python {interpreter.version} failed:\n{done.stdout}")


def dependencies(interpreter: Interpreter, files: Sequence[Path], cache_dir: Path) -> Path:
    """A folder holding the dependencies in `files` for `interpreter`, installed once and cached."""
    with_postgres = any(f.name == "requirements-postgres.txt" for f in files)
    key = hashlib.sha256()
    for part in (
        CACHE_FORMAT,
        interpreter.version,
        *_cross_platform_args(),
        *(f.read_text(encoding="utf-8") for f in files),
    ):
        key.update(part.encode() + b"\0")
    major_minor = interpreter.version.rsplit(".", 1)[0]
    target = cache_dir / f"deps-py{major_minor}{'-pg' if with_postgres else ''}-{key.hexdigest()[:12]}"
    if (target / ".complete").exists():
        print(f"deps     py{major_minor}: cached in {_rel(target)}")
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=cache_dir))
    args = [
        "-m",
        "pip",
        "install",
        "--target",
        str(staging),
        "--no-compile",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--no-input",
        "--quiet",
        "--root-user-action=ignore",
        *_cross_platform_args(),
    ]
    for file in files:
        args += ["-r", str(file)]
    command = " ".join(interpreter.argv)
    wanted = " -r ".join(f.name for f in files)
    print(f"deps     py{major_minor}: {command} (Python {interpreter.version}) -m pip install -r {wanted}")
    done = interpreter.run(*args)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(
            f"pip install for Python {interpreter.version} failed (exit {done.returncode}); see above"
        )
    prune(staging)
    compile_bytecode(interpreter, staging)
    (staging / ".complete").write_text(interpreter.version + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    prefix = target.name.rsplit("-", 1)[0] + "-"
    for stale in cache_dir.glob(prefix + "*"):  # earlier requirements for the same target
        if stale != target and stale.is_dir() and len(stale.name) == len(target.name):
            shutil.rmtree(stale, ignore_errors=True)
    return target


# ---------------------------------------------------------------- packages


def function_names(requested: Iterable[str] | None) -> tuple[list[str], list[str]]:
    """(functions to build, notes about skipped ones). A requested function must exist."""
    chosen = list(dict.fromkeys(requested)) if requested else list(FUNCTIONS)
    unknown = [name for name in chosen if name not in FUNCTIONS]
    if unknown:
        raise BuildError(f"unknown function(s) {', '.join(unknown)}; choose from {', '.join(FUNCTIONS)}")
    present = [name for name in chosen if (ROOT / "functions" / name / "handler.py").is_file()]
    missing = [name for name in chosen if name not in present]
    if requested and missing:
        raise BuildError(f"functions/{missing[0]}/handler.py does not exist")
    return present, [f"{name}: functions/{name}/handler.py does not exist; skipped" for name in missing]


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def assemble(
    cloud: str, function: str, deps: Path, out: Path, interpreter: Interpreter | None = None
) -> Path:
    """`out/<cloud>/<function>/`: the dependencies, `shared/`, and the handler where the platform wants it."""
    folder = out / cloud / function
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(deps, folder, copy_function=_link_or_copy, ignore=shutil.ignore_patterns(".complete"))
    clashes = [name for name in ("shared", "handler.py", "functions") if (folder / name).exists()]
    if clashes:
        raise BuildError(f"a dependency installs {clashes[0]!r}, which would shadow our own code")
    shutil.copytree(ROOT / "shared", folder / "shared", ignore=SOURCE_IGNORE)
    source = ROOT / "functions" / function / "handler.py"
    if cloud == "aws":  # path-style handler: functions/<fn>/handler.handler
        (folder / "functions" / function).mkdir(parents=True)
        shutil.copy2(source, folder / "functions" / function / "handler.py")
    else:  # SCF / CloudBase handlers cannot name a sub-folder: handler.main_handler at the root
        shutil.copy2(source, folder / "handler.py")
    if interpreter is not None:
        compile_bytecode(interpreter, folder / "shared")
        compile_bytecode(interpreter, folder / "functions" if cloud == "aws" else folder / "handler.py")
    return folder


def write_zip(folder: Path, zip_path: Path) -> tuple[int, int]:
    """Zip `folder` reproducibly (sorted names, fixed time and modes); returns (files, unzipped bytes)."""
    files = sorted(
        (p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix()
    )
    staging = zip_path.with_name(zip_path.name + ".tmp")
    total = 0
    with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=ZIP_EPOCH)
            executable = bool(path.stat().st_mode & stat.S_IXUSR)
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.create_system = 3  # unix, so the modes above are honoured everywhere
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            total += len(data)
            archive.writestr(info, data, compresslevel=9)
    staging.replace(zip_path)
    return len(files), total


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_cloud(
    cloud: str,
    functions: Sequence[str],
    interpreter: Interpreter,
    *,
    requirements: Sequence[Path],
    out: Path,
    cache_dir: Path,
) -> list[Package]:
    """Every requested function of one cloud: folder, zip, manifest."""
    deps = dependencies(interpreter, requirements, cache_dir)
    packages = []
    for function in functions:
        folder = assemble(cloud, function, deps, out, interpreter)
        packages.append(zip_package(cloud, function, folder, out, interpreter))
    add_to_manifest(out / cloud / "manifest.json", packages)
    return packages


def zip_package(cloud: str, name: str, folder: Path, out: Path, interpreter: Interpreter) -> Package:
    """Zip an assembled folder into `<out>/<cloud>/<name>.zip`, with its size and hash."""
    package = Package(cloud, name, folder, out / cloud / f"{name}.zip", python=interpreter.version)
    package.files, package.unzipped_bytes = write_zip(folder, package.zip_path)
    package.zip_bytes = package.zip_path.stat().st_size
    package.sha256 = sha256_file(package.zip_path)
    return package


def add_to_manifest(manifest_path: Path, packages: Sequence[Package]) -> None:
    """Record each zip's size, hash and runtime in `<cloud>/manifest.json` (keyed by function)."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    manifest.update(
        {
            p.function: {
                "zip": p.zip_path.name,
                "bytes": p.zip_bytes,
                "unzipped_bytes": p.unzipped_bytes,
                "files": p.files,
                "sha256": p.sha256,
                "python": p.python,
                "runtime": RUNTIME_LABEL[p.cloud],
                **({"layer_path": LAYER_PATH[p.cloud]} if p.function == POSTGRES_LAYER else {}),
            }
            for p in packages
        }
    )
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n", encoding="utf-8")


def build_postgres_layer(
    cloud: str, interpreter: Interpreter, *, requirements: Sequence[Path], out: Path, cache_dir: Path
) -> Package:
    """`<out>/<cloud>/postgres-layer.zip`: what `requirements-postgres.txt` adds to the functions'
    dependencies (resolved together, so the versions agree), at the cloud's layer path."""
    base = dependencies(interpreter, requirements, cache_dir)
    full = dependencies(interpreter, [*requirements, ROOT / "requirements-postgres.txt"], cache_dir)
    folder = out / cloud / POSTGRES_LAYER
    shutil.rmtree(folder, ignore_errors=True)
    target = folder / LAYER_PATH[cloud]
    target.mkdir(parents=True)
    for entry in sorted(full.iterdir()):
        if entry.name == ".complete" or (base / entry.name).exists():
            continue  # the functions already carry it
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(entry), str(target / entry.name))
    if not any(target.glob("psycopg*")):
        raise BuildError("requirements-postgres.txt installed no psycopg: nothing to put in the layer")
    return zip_package(cloud, POSTGRES_LAYER, folder, out, interpreter)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def report(packages: Sequence[Package], max_zip_mb: float) -> list[Package]:
    """Print one line per zip; return the packages over the size limit."""
    over = []
    for p in packages:
        flag = ""
        if p.zip_bytes >= max_zip_mb * MB:
            over.append(p)
            flag = f"  OVER the {max_zip_mb:g} MiB limit"
        print(
            f"{p.cloud:<9} {p.function:<16} {p.zip_bytes / MB:6.2f} MiB zip  "
            f"{p.unzipped_bytes / MB:6.2f} MiB unzipped  {p.files:5d} files  {_rel(p.zip_path)}{flag}"
        )
    return over


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cloud", choices=[*CLOUDS, "all"], default="all", help="which cloud to build for")
    parser.add_argument(
        "--function",
        action="append",
        metavar="NAME",
        help=f"build only this function (repeatable): {', '.join(FUNCTIONS)}",
    )
    parser.add_argument(
        "--with-postgres",
        action="store_true",
        help="also build postgres-layer.zip (requirements-postgres.txt: psycopg) for "
        "SMS_STORE_URL=postgresql://…",
    )
    parser.add_argument(
        "--requirements",
        action="append",
        type=Path,
        metavar="FILE",
        help="runtime requirements to vendor instead of requirements.txt (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output folder (default: build/)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="dependency cache (default: <out>/.cache)"
    )
    parser.add_argument(
        "--aws-python", metavar="PATH", help="Python 3.12 to install the AWS dependencies with"
    )
    parser.add_argument(
        "--tencent-python", metavar="PATH", help="Python 3.10 to install the SCF/CloudBase dependencies with"
    )
    parser.add_argument(
        "--max-zip-mb",
        type=float,
        default=DEFAULT_MAX_ZIP_MB,
        help=f"fail when a zip (function or layer) reaches this many MiB (default: {DEFAULT_MAX_ZIP_MB:g})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # keep our lines in order with pip's
    out: Path = args.out.resolve()
    cache_dir: Path = (args.cache_dir or out / ".cache").resolve()
    clouds = list(CLOUDS) if args.cloud == "all" else [args.cloud]
    try:
        functions, notes = function_names(args.function)
        requirements = requirement_files(args.requirements)
        for note in notes:
            print(f"note     {note}")
        interpreters: dict[str, Interpreter] = {}
        packages: list[Package] = []
        layers: list[Package] = []
        for cloud in clouds:
            want = TARGET_PYTHON[cloud]
            if want not in interpreters:
                interpreters[want] = find_interpreter(
                    want, args.aws_python if cloud == "aws" else args.tencent_python
                )
            packages += build_cloud(
                cloud, functions, interpreters[want], requirements=requirements, out=out, cache_dir=cache_dir
            )
            if args.with_postgres:
                layers.append(
                    build_postgres_layer(
                        cloud, interpreters[want], requirements=requirements, out=out, cache_dir=cache_dir
                    )
                )
                add_to_manifest(out / cloud / "manifest.json", layers[-1:])
    except BuildError as error:
        print(f"build failed: {error}", file=sys.stderr)
        return 2
    limit = args.max_zip_mb
    over = report(packages + layers, limit)
    if over:
        print(f"build failed: {len(over)} zip(s) over their size limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
