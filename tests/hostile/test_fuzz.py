"""The readers under a seeded, time-bounded fuzzer: only dockyard errors, bounded memory.

The fuzzer (fuzz.py beside this file) runs in a child process so that its peak
memory is its own. DOCKYARD_FUZZ_SEED and DOCKYARD_FUZZ_SECONDS change the run
(e.g. a longer one by hand: DOCKYARD_FUZZ_SECONDS=600); a failure names the
saved input and the seed that found it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).with_name("fuzz.py")
SEED = int(os.environ.get("DOCKYARD_FUZZ_SEED", "20261206"))
SECONDS = float(os.environ.get("DOCKYARD_FUZZ_SECONDS", "12"))
RSS_LIMIT = 256 << 20


@pytest.mark.parametrize("part", ["sources", "images"])
def test_fuzzed_readers_raise_only_dockyard_errors(tmp_path, part):
    proc = subprocess.Popen([sys.executable, str(FUZZ), str(SEED), str(SECONDS), str(tmp_path),
                             part], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    last = out.strip().splitlines()[-1] if out.strip() else "{}"
    result = json.loads(last) if last.startswith("{") else {"output": out[-3000:]}
    assert proc.returncode == 0 and result.get("ok"), (
        f"seed {SEED}: {result.get('target')}: {result.get('error')}\n"
        f"input saved in {result.get('inputs')}\n{result.get('traceback') or out[-3000:]}")
    assert result["inputs"][part] > 100, result   # it did run, and not on one input
    assert usage.ru_maxrss * 1024 < RSS_LIMIT, f"peak RSS {usage.ru_maxrss >> 10} MiB"
