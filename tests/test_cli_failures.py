"""Every way a newcomer's command can fail ends in one `ecr-lab: ...` line and a non-zero
status, never a traceback: each case runs the real command (marked slow: a process each).
These fail before any lab starts; tests/test_cli_lab.py has the ones with a lab running."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lab import __version__
from lab.invocation import command_name
from lab.scenario.serve import exposure_warning
from tests.server_support import ROOT, cli, one_line_failure

DEAD_ENDPOINT = "http://127.0.0.1:1"  # port 1: nothing listens there
slow = pytest.mark.slow


@slow
def test_version() -> None:
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"ecr-lab {__version__}"


@slow
def test_serve_on_a_port_in_use_names_the_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("serve", "--port", str(port), "--state-dir", str(tmp_path / "state"))
    line = one_line_failure(done, 1)
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in line


@slow
def test_serve_on_a_state_dir_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "state"
    file.write_text("not a directory")
    line = one_line_failure(cli("serve", "--port", "0", "--state-dir", str(file)), 2)
    assert line == f"ecr-lab: --state-dir {file} is a file, not a directory"


@slow
@pytest.mark.parametrize("state_dir", ["/proc", "/proc/ecr-lab-state"])
def test_serve_on_a_state_dir_it_cannot_write(state_dir: str) -> None:
    # /proc: even root cannot create files there (the tests may run as root)
    line = one_line_failure(cli("serve", "--port", "0", "--state-dir", state_dir), 2)
    assert line.startswith(f"ecr-lab: cannot create --state-dir {state_dir}") or line.startswith(
        f"ecr-lab: --state-dir {state_dir} is not writable"
    )


@slow
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_an_upstream_that_is_not_a_url(command: str, tmp_path: Path) -> None:
    extra = ["--port", "0", "--state-dir", str(tmp_path)] if command == "serve" else []
    line = one_line_failure(cli(command, *extra, "--upstream", "localstack"), 2)
    assert "--upstream must be 'embedded' or a URL" in line and "'localstack'" in line


@slow
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_an_unreachable_upstream(command: str, tmp_path: Path) -> None:
    extra = ["--port", "0", "--state-dir", str(tmp_path)] if command == "serve" else []
    done = cli(command, *extra, "--upstream", DEAD_ENDPOINT)
    line = one_line_failure(done, 1)
    assert line == f"ecr-lab: the IAM upstream {DEAD_ENDPOINT} does not answer (Connection refused)"
    assert "listening" not in done.stdout and "starting a lab" not in done.stderr


@slow
def test_demo_checks_its_output_path_before_running(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "x.html"
    done = cli("demo", "--format", "html", "--output", str(target))
    line = one_line_failure(done, 2)
    assert line == f"ecr-lab: cannot write --output {target}: No such file or directory"
    assert "·" not in done.stderr  # no demo step ran


@slow
@pytest.mark.parametrize("operation", ["fetch", "ecr:Bogus"])
def test_explain_an_unknown_operation(operation: str) -> None:
    line = one_line_failure(cli("explain", "instance1", operation), 2)
    assert line == (
        f"ecr-lab: unknown operation {operation!r}: use push, pull, login, or an ECR action "
        "such as ecr:PutImage"
    )


@slow
@pytest.mark.parametrize("command", [["shell", "instance1"], ["env", "instance1"], ["status"]])
def test_commands_that_need_a_lab_when_none_runs(command: list[str]) -> None:
    line = one_line_failure(cli(*command, "--endpoint", DEAD_ENDPOINT), 1)
    assert line.startswith(f"ecr-lab: no lab answers at {DEAD_ENDPOINT} (Connection refused)")
    assert f"start one with `{sys.executable} -m lab.cli serve`" in line  # as it was run


@slow
def test_reset_refuses_a_directory_that_is_not_a_labs_state(tmp_path: Path) -> None:
    (tmp_path / "identity").mkdir()
    (tmp_path / "identity" / "credentials.json").write_text("{}")
    for precious in ("thesis.tex", ".git"):  # hidden or not, nothing the lab did not write
        (tmp_path / precious).write_text("years of work")
        line = one_line_failure(cli("reset", "--state-dir", str(tmp_path)), 2)
        assert "does not look like an ecr-lab state directory" in line
        assert (tmp_path / precious).read_text() == "years of work"
        (tmp_path / precious).unlink()
    home = one_line_failure(cli("reset", "--state-dir", str(Path.home())), 2)
    assert "does not look like an ecr-lab state directory" in home


@slow
def test_reset_of_nothing_is_no_error(tmp_path: Path) -> None:
    done = cli("reset", "--state-dir", str(tmp_path / "none"))
    assert done.returncode == 0 and "nothing to wipe" in done.stdout


@pytest.mark.parametrize(
    ("host", "exposed"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.20", True),
        ("lab.example", True),
    ],
)
def test_a_bind_reachable_from_the_network_warns_about_the_admin_key(
    host: str, exposed: bool
) -> None:
    warning = exposure_warning(host)
    assert (warning is not None) == exposed
    if warning:
        assert "access key test, secret test" in warning and host in warning


def test_hints_name_the_command_as_the_user_ran_it(tmp_path: Path) -> None:
    script = tmp_path / ".venv" / "bin" / "ecr-lab"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    assert command_name(str(script), "/usr/bin/python3") == str(script)  # not on PATH
    assert command_name("/x/lab/cli.py", "/opt/py/bin/python3") == "/opt/py/bin/python3 -m lab.cli"


def _fake_python(path: Path, version: str | None) -> None:
    """An executable that answers like a Python of `version`, or fails like a pyenv shim of
    a version that is not selected (None)."""
    if version is None:
        path.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    else:
        major, minor = version.split(".")
        probe = f"import sys; sys.version_info = ({major}, {minor}, 0); "
        path.write_text(f'#!/bin/sh\nexec {sys.executable} -c "{probe}$2"\n')
    path.chmod(0o755)


def _script(path_dir: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """One of the project's scripts with only `path_dir` and the system on PATH."""
    return subprocess.run(
        ["bash", *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": f"{path_dir}:/usr/bin:/bin", "HOME": str(path_dir), **env},
        timeout=60,
    )


def _picked(path_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return _script(path_dir, "scripts/setup.sh", "--print-python", **env)


def test_setup_picks_the_newest_python_that_runs(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_python(bin_dir / "python3.13", None)  # a shim of an unselected version
    _fake_python(bin_dir / "python3.12", "3.12")
    _fake_python(bin_dir / "python3.11", "3.11")
    done = _picked(bin_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "python3.12"
    chosen = _picked(bin_dir, PYTHON=str(bin_dir / "python3.11"))
    assert chosen.stdout.strip() == str(bin_dir / "python3.11")


def test_setup_refuses_a_python_older_than_3_11(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python3.13", "python3.12", "python3.11", "python3"):
        _fake_python(bin_dir / name, None)
    old = bin_dir / "old"
    _fake_python(old, "3.10")
    assert "needs CPython 3.11 or newer" in _picked(bin_dir).stderr
    refused = _picked(bin_dir, PYTHON=str(old))
    assert refused.returncode == 1 and "is not a CPython 3.11 or newer" in refused.stderr


def test_ci_finds_a_python_version_through_pyenv_when_its_shim_fails(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_python(bin_dir / "python3.13", None)  # the shim: 3.13 is installed but not selected
    real = tmp_path / "versions" / "3.13.0" / "bin" / "python3.13"
    real.parent.mkdir(parents=True)
    _fake_python(real, "3.13")
    pyenv = bin_dir / "pyenv"
    pyenv.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        "  versions) printf '3.12.1\\n3.13.0\\n' ;;\n"
        f'  which) [ "$PYENV_VERSION" = 3.13.0 ] && echo {real} || exit 1 ;;\n'
        "esac\n"
    )
    pyenv.chmod(0o755)
    found = _script(bin_dir, "scripts/find-python.sh", "3.13")
    assert (found.returncode, found.stdout.strip()) == (0, str(real))
    missing = _script(bin_dir, "scripts/find-python.sh", "3.99")
    assert (missing.returncode, missing.stdout) == (1, "")
