import json
import subprocess
import sys

from tounum import __version__
from tounum.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage: tounum" in capsys.readouterr().err


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tounum"] == __version__
    assert report["packages"]["keras"].startswith("3.")


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "tounum", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "exit codes" in out.stdout
