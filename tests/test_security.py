"""A config names components; it never runs code the docs do not promise (module:attr is checked first)."""
import os
import subprocess
import sys

import pytest
import yaml

from slotnas import SlotnasError

from .helpers import TINY, tiny_config

PROBES = [
    ({"model": {"type": "os:system", "command": "touch {marker}"}}, r"^model.type: 'os:system' names the Python "
                                                                    r"standard library"),
    ({"model": {"type": "subprocess:getoutput", "cmd": "touch {marker}"}}, r"^model.type: 'subprocess:getoutput'"),
    ({"model": {"type": "os:popen", "cmd": "touch {marker}"}}, r"^model.type: 'os:popen' names the Python"),
    ({"model": {"type": "this:s"}}, r"^model.type: 'this:s' names the Python standard library"),  # prints on import
    ({"model": {"type": "tests.helpers:tiny_config", "tmp_path": "{marker}"}},
     r"^model.type: 'tests.helpers:tiny_config' is a function, not an nn.Module subclass"),
    ({"run": {"callbacks": ["subprocess:getoutput"]}}, r"^run.callbacks\[0\]: 'subprocess:getoutput' names the"),
    ({"run": {"catch": ["os:system"]}}, r"^run.catch: 'os:system' names the Python standard library"),
]


def fill(section, marker):
    return yaml.safe_load(yaml.safe_dump(section).replace("{marker}", str(marker)))


@pytest.mark.parametrize("section, message", PROBES)
def test_module_attr_never_calls_what_it_may_not(tmp_path, section, message):
    marker = tmp_path / "M"
    with pytest.raises(SlotnasError, match=message):
        tiny_config(tmp_path / "out", **fill(section, marker))
    assert not marker.exists()


@pytest.mark.parametrize("command", ["search", "describe"])
def test_the_cli_refuses_a_config_that_would_run_a_shell_command(tmp_path, command):
    marker = tmp_path / "M"
    config = tmp_path / "evil.yaml"
    config.write_text(yaml.safe_dump({**TINY, "model": {"type": "os:system", "command": f"touch {marker}"},
                                      "run": {**TINY["run"], "out": str(tmp_path / "out")}}))
    proc = subprocess.run([sys.executable, "-m", "slotnas.cli", command, str(config)], capture_output=True,
                          text=True, timeout=120, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert proc.returncode == 2 and not marker.exists()
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "model.type: 'os:system' names the Python standard library" in proc.stderr
