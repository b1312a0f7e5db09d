"""The report in a real browser: headless Chromium (Debian's chromium package) loads the page with no console
error, its sorting and filtering scripts work, and a screenshot is not blank. Skipped where Chromium is absent."""
import os
import re
import shutil
import subprocess

import pytest

from slotnas.runtime.search import run_search

from .helpers import tiny_config

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (CI installs Debian's chromium package)")

PROBE = """<script>
const board = document.getElementById('board'), th = board.tHead.rows[0].cells[0];
sortBy(th); sortBy(th);  // twice: descending by trial
const first = board.tBodies[0].rows[0].cells[0].textContent;
const box = document.querySelector('input'); box.value = 'no-such-architecture'; filterRows(box);
const shown = [...board.tBodies[0].rows].filter(r => r.style.display !== 'none').length;
document.body.dataset.probe = `first=${first};shown=${shown}`;
</script></body>"""


def chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                           "--window-size=1200,1600", "--virtual-time-budget=3000", *args],
                          capture_output=True, text=True, timeout=120)


def console_errors(stderr: str) -> list:
    return [line for line in stderr.splitlines() if "CONSOLE" in line and re.search(r"Uncaught|Error", line)]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    result = run_search(tiny_config(tmp_path_factory.mktemp("browser"), run={"budget": 5, "report": True}))
    return os.path.join(result.run_dir, "report.html")


def test_the_page_loads_without_console_errors_and_renders(report, tmp_path):
    shot = tmp_path / "shot.png"
    done = chromium(f"--screenshot={shot}", f"file://{report}")
    assert console_errors(done.stderr) == []
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))[..., :3]
    inked = (pixels.mean(axis=2) < 0.9).mean()
    assert 0.01 < inked < 0.9  # text, tables and figures drawn: neither blank nor a solid fill


def test_sorting_and_filtering_run_in_the_browser(report, tmp_path):
    page = open(report).read().replace("</body>", PROBE)
    probe = tmp_path / "probe.html"
    probe.write_text(page)
    done = chromium("--dump-dom", f"file://{probe}")
    assert console_errors(done.stderr) == []
    assert 'data-probe="first=4;shown=0"' in done.stdout  # 5 trials: 4 first when sorted descending; none match
