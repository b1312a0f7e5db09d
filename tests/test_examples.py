"""The examples/ scripts run as documented (small budgets)."""
import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def test_own_training_loop_example_searches_with_a_user_loop(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "own_training_loop.py"), "--budget", "3",
                           "--epochs", "1", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("best: {'cells.0': ") and "val_acc" in done.stdout
    assert len(os.listdir(tmp_path)) == 1
