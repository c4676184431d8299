"""A real install: the built wheel, installed into a fresh virtual environment outside the checkout,
runs ``mailintake demo`` with the shipped forms, roster, quotas and templates (package data)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv")

pytestmark = [pytest.mark.skipif(UV is None, reason="uv is not installed (pip install uv)"), pytest.mark.slow]


def uv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAILINTAKE_CONFIG")}
    return subprocess.run([str(UV), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def pip_install(venv: Path, root: Path, *args: str) -> None:
    """Install pinned requirements (no resolution needed: the exact wheels come from uv's cache, or the
    index when the cache lacks one)."""
    install = uv("pip", "install", "-q", "--offline", "--no-deps", "--python", str(venv / "bin" / "python"),
                 *args, cwd=root)
    if install.returncode != 0:  # a wheel or the index's metadata is not cached (a fresh machine): fetch it
        install = uv("pip", "install", "-q", "--no-deps", "--python", str(venv / "bin" / "python"), *args, cwd=root)
    assert install.returncode == 0, install.stderr


def export(root: Path, name: str, *args: str) -> Path:
    pins = root / name
    exported = uv("export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "-q", "-o", str(pins), *args,
                  cwd=PROJECT)
    assert exported.returncode == 0, exported.stderr
    return pins


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv in a temporary directory holding the wheel and its locked dependencies, without the demo extra."""
    root = tmp_path_factory.mktemp("install")
    built = uv("build", "--wheel", "--out-dir", str(root / "dist"), cwd=PROJECT)
    assert built.returncode == 0, built.stderr
    wheel = next((root / "dist").glob("mailintake-*.whl"))
    venv = root / "venv"
    assert uv("venv", "-q", str(venv), cwd=root).returncode == 0
    pip_install(venv, root, "-r", str(export(root, "requirements.txt")), str(wheel))
    return venv


def test_the_wheel_ships_the_defaults_and_runs_the_demo_outside_the_checkout(installed: Path,
                                                                            tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c",
         "import mailintake, mailintake.config.shipped as r, parsers.definitions as d; "
         "print(mailintake.__file__); print(r.shipped_dir()); print(d.DEFAULT_PATH)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    package, shipped, forms = where.stdout.splitlines()
    site = installed / "lib"
    assert Path(package).is_relative_to(site) and Path(shipped).is_relative_to(site)
    assert Path(forms).is_relative_to(site)
    assert sorted(p.name for p in Path(shipped).iterdir()) == [
        "mailintake.example.toml", "mailintake.service", "quotas.toml", "templates", "units.csv"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
    imports = subprocess.run([str(installed / "bin" / "python"), "-c", "import pymap"], capture_output=True)
    assert imports.returncode == 1  # a production install: no demo servers
    refused = subprocess.run([str(installed / "bin" / "mailintake"), "demo"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert (refused.returncode, refused.stderr) == (1, "demo: needs the local test servers (pymap, aiosmtpd); "
                                                       "install them with `pip install 'mailintake[demo]'` "
                                                       "(in a checkout: `uv sync`)\n")
    pip_install(installed, tmp_path, "-r", str(export(tmp_path, "demo.txt", "--extra", "demo")))
    demo = subprocess.run([str(installed / "bin" / "mailintake"), "demo", "--dir", str(tmp_path / "demo"),
                           "--json", "--no-doc"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert demo.returncode == 0, demo.stderr
    result = json.loads(demo.stdout)
    assert result["errors"] == []
    assert len(result["mails"]) == 10
    assert (result["report"]["summary"]["late"], result["report"]["summary"]["overlong"]) == (1, 1)
    assert "template" not in demo.stderr  # no "not found, using the shipped copy" warnings
    # without a config file, an installed command says how to make one
    status = subprocess.run([str(installed / "bin" / "mailintake"), "status"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 2
    assert status.stderr == (f"config: no configuration file; copy {shipped}/mailintake.example.toml to "
                             "config/mailintake.toml and fill it in, or pass --config PATH (or set "
                             "MAILINTAKE_CONFIG)\n")


def test_the_poll_path_imports_no_report_or_excel_stack() -> None:
    """A ``poll`` with nothing to report must not pay for openpyxl, the report or the templates."""
    import sys

    code = ("import sys, mailintake.commands.poll, mailintake.intake.cycle, mailintake.outbox.sender, "
            "mailintake.worker.service; "
            "print(sorted(m for m in ('openpyxl', 'mailintake.report', 'jinja2', 'docx', 'rich.table') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


def test_install_script_is_valid_sh_and_its_dry_run_lists_every_step() -> None:
    script = PROJECT / "config" / "install.sh"
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True, timeout=30).returncode == 0
    done = subprocess.run(["sh", str(script), "--dry-run", "--prefix", "/srv/mi", "--user", "mi-test-nobody"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    steps = [line.split(" ", 2)[1] for line in done.stdout.splitlines() if line.startswith("+ ")]
    assert steps == ["useradd", "git", "env", "install", "install", "install", "sed", "systemctl"]
    assert f"git clone {PROJECT} /srv/mi" in done.stdout
    assert "sync --project /srv/mi --frozen --no-dev --no-editable --compile-bytecode" in done.stdout
    assert "UV_PYTHON_INSTALL_DIR=/srv/mi/python" in done.stdout  # never an interpreter under a home directory
    unknown = subprocess.run(["sh", str(script), "--bogus"], capture_output=True, text=True, timeout=30)
    assert (unknown.returncode, unknown.stderr) == (2, "install.sh: unknown option --bogus (see --help)\n")


def test_the_unit_runs_the_installed_entry_point_without_uv() -> None:
    unit = (PROJECT / "config" / "mailintake.service").read_text("utf-8")
    service = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert service["ExecStart"] == "/opt/mailintake/.venv/bin/mailintake run"
    assert service["WorkingDirectory"] == "/opt/mailintake"
    assert service["ProtectHome"] == "true" and service["ReadWritePaths"] == "/opt/mailintake/var"
    assert "uv" not in service["ExecStart"].split("/")
