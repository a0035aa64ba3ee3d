"""Run the whole suite: each test file in its own pytest process, two at a time.

    python tests/run_suite.py [extra pytest arguments]

One process per file runs two files at a time on CI's two cores and keeps
every file's compiled programs apart. (The crashes and wrong answers that
earlier sessions saw late in one long process came from tree structures of
different losses/penalties comparing equal in JAX's compilation caches; see
``jaxreg/_pytree.py``.) The doctests of
``jaxreg/`` and ``README.md`` run as one more process. Exits non-zero when
any process fails.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _run(targets, extra):
    start = time.perf_counter()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *targets, *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return targets, done.returncode, done.stdout + done.stderr, time.perf_counter() - start


def main(extra):
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py"))
    # Longest first, so that the two workers finish together.
    heavy = ["tests/test_estimators.py", "tests/test_solve.py", "tests/test_losses.py",
             "tests/test_interior_point.py", "tests/test_hypergrad.py", "tests/test_cd.py",
             "tests/test_notebooks.py"]
    jobs = [[f] for f in heavy if f in files] + [[f] for f in files if f not in heavy]
    jobs.append(["jaxreg", "README.md"])
    failed = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for targets, code, output, seconds in pool.map(lambda t: _run(t, extra), jobs):
            summary = output.strip().splitlines()[-1] if output.strip() else ""
            print(f"{' '.join(targets):40s} {seconds:6.1f} s  {summary}", flush=True)
            if code not in (0, 5):          # 5: nothing collected (e.g. all deselected)
                failed.append(targets)
                print(output, flush=True)
    if failed:
        print(f"FAILED: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
