"""scripts/build.py: the package layout per cloud, what is left out, sizes, and reproducible zips."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from scripts import build as build_script
from tests.deploy.conftest import Built

pytestmark = pytest.mark.slow

MAX_ZIP_BYTES = 5 * 1024 * 1024


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_every_function_is_built_for_every_cloud(built: Built) -> None:
    assert built.functions, "no function handler found"
    for cloud in build_script.CLOUDS:
        for function in built.functions:
            assert built.zip(cloud, function).is_file(), f"{cloud}/{function}.zip missing"
            assert (built.out / cloud / function).is_dir()
            assert built.manifests[cloud][function]["runtime"] == build_script.RUNTIME_LABEL[cloud]


@pytest.mark.parametrize("cloud", build_script.CLOUDS)
def test_zips_stay_under_5_mb(built: Built, cloud: str) -> None:
    for function in built.functions:
        size = built.zip(cloud, function).stat().st_size
        print(f"{cloud}/{function}.zip: {size / 1024 / 1024:.2f} MiB")
        assert size < MAX_ZIP_BYTES, f"{cloud}/{function}.zip is {size} bytes"
        assert built.manifests[cloud][function]["bytes"] == size


@pytest.mark.parametrize("cloud", ["scf", "cloudbase"])
def test_tencent_handler_sits_at_the_zip_root(built: Built, cloud: str) -> None:
    for function in built.functions:
        names = _names(built.zip(cloud, function))
        assert "handler.py" in names
        assert not any(n.startswith("functions/") for n in names)
        source = (build_script.ROOT / "functions" / function / "handler.py").read_bytes()
        with zipfile.ZipFile(built.zip(cloud, function)) as archive:
            assert archive.read("handler.py") == source
        assert built.manifests[cloud][function]["python"].startswith("3.10.")


def test_aws_handler_keeps_its_path(built: Built) -> None:
    for function in built.functions:
        names = _names(built.zip("aws", function))
        assert f"functions/{function}/handler.py" in names
        assert "handler.py" not in names
        others = [
            n for n in names if n.startswith("functions/") and not n.startswith(f"functions/{function}/")
        ]
        assert others == [], "a function zip carries only its own handler"
        assert built.manifests["aws"][function]["python"].startswith("3.12.")


@pytest.mark.parametrize("cloud", build_script.CLOUDS)
def test_packages_hold_shared_and_deps_but_no_junk(built: Built, cloud: str) -> None:
    names = _names(built.zip(cloud, built.functions[0]))
    tops = {n.split("/", 1)[0] for n in names}
    assert {"shared", "httpcore", "h11", "aws_lambda_powertools", "phonenumbers"} <= tops
    assert "httpx" not in tops  # its Client layer is not used at run time (README: Performance)
    assert "shared/__init__.py" in names
    assert not [n for n in names if n.endswith((".pyi", ".pyo"))]
    # bytecode made by the target interpreter, one per module, next to every source
    tag = "cpython-312" if cloud == "aws" else "cpython-310"
    pycs = [n for n in names if n.endswith(".pyc")]
    assert pycs
    assert all(f".{tag}.pyc" in n and "/__pycache__/" in "/" + n for n in pycs)
    assert "shared/__pycache__/entry." + tag + ".pyc" in names
    assert not tops & {"local", "tests", "bench", "scripts", "deploy", "node_modules", "bin", "build"}
    assert not [n for n in names if n.endswith(("/RECORD", "/INSTALLER", "/direct_url.json"))]
    assert not [n for n in names if n.startswith(("psycopg/", "psycopg_binary"))], "postgres is opt-in"


def test_marker_dependencies_follow_the_target_python(tmp_path: Path) -> None:
    """Each target's own pip installs the requirements, so a dependency behind a Python-version
    marker lands in the SCF (3.10) build and not in the AWS (3.12) one."""
    wanted = tmp_path / "requirements.txt"
    wanted.write_text('exceptiongroup==1.3.2; python_version < "3.11"\nh11==0.16.0\n', encoding="utf-8")
    for cloud, present in (("scf", True), ("aws", False)):
        interpreter = build_script.find_interpreter(build_script.TARGET_PYTHON[cloud])
        folder = build_script.dependencies(interpreter, [wanted], tmp_path / "cache")
        assert (folder / "h11").is_dir()
        assert (folder / "exceptiongroup").is_dir() is present, cloud


def test_zip_entries_are_sorted_and_timeless(built: Built) -> None:
    with zipfile.ZipFile(built.zip("scf", built.functions[0])) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {build_script.ZIP_EPOCH}
    assert {i.external_attr >> 16 & 0o777 for i in infos} <= {0o644, 0o755}


def test_zipping_the_same_folder_gives_the_same_bytes(built: Built, tmp_path: Path) -> None:
    function = built.functions[0]
    again = tmp_path / "again.zip"
    build_script.write_zip(built.out / "scf" / function, again)
    assert build_script.sha256_file(again) == built.manifests["scf"][function]["sha256"]


def test_unknown_or_missing_function_is_refused() -> None:
    with pytest.raises(build_script.BuildError, match="unknown function"):
        build_script.function_names(["nope"])
    missing = [
        n for n in build_script.FUNCTIONS if not (build_script.ROOT / "functions" / n / "handler.py").exists()
    ]
    if missing:
        with pytest.raises(build_script.BuildError, match="does not exist"):
            build_script.function_names([missing[0]])


def test_a_missing_interpreter_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(build_script.BuildError, match=r"Python 3\.10 .*--tencent-python"):
        build_script.find_interpreter("3.10", str(tmp_path / "no-such-python"))
