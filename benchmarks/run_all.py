"""Run every ``bench_*.py`` in this folder, one after the other.

Each script runs in its own process so that one's memory and thread pools do
not colour the next. Extra arguments (e.g. ``--quick``) are passed on to every
script. Usage::

    python benchmarks/run_all.py [--quick] [--only knn,linear]
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma list of areas, e.g. knn,linear")
    args, passthrough = parser.parse_known_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {f"bench_{name.strip()}.py" for name in args.only.split(",")}
        scripts = [s for s in scripts if s.name in wanted]
    failed = []
    t_all = time.perf_counter()
    for script in scripts:
        print(f"\n===== {script.name} {' '.join(passthrough)}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *passthrough])
        print(f"===== {script.name}: exit {code}, {time.perf_counter() - t0:.0f} s")
        if code:
            failed.append(script.name)
    print(f"\nall benchmarks: {time.perf_counter() - t_all:.0f} s")
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
