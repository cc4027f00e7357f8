"""python -m scripts.bench [ingest screen phone growth memory risk stage2 | soak] [--quick] [--repeat N]"""
import argparse
import importlib
import sys
import time
import traceback

BENCHMARKS = {  # name -> module, in the order `make bench` prints them
    "ingest": "scripts.bench.ingest",
    "screen": "scripts.bench.flag_to_screen",
    "phone": "scripts.bench.flag_to_phone",
    "growth": "scripts.bench.growth",
    "memory": "scripts.bench.memory",
    "risk": "scripts.bench.risk_share",
    "stage2": "scripts.bench.second_stage",
}
EXTRA = {"soak": "scripts.bench.soak"}  # run only when named: half an hour


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__)
    parser.add_argument("names", nargs="*",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (figures are rough)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds per benchmark where it repeats (default 3, 1 with --quick)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS and n not in EXTRA]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    repeat = args.repeat or (1 if args.quick else 3)
    lines = []
    for name in names:
        started = time.monotonic()
        print(f"[{name}] running{' (quick)' if args.quick else ''}...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(BENCHMARKS.get(name) or EXTRA[name])
            line = module.run(quick=args.quick, repeat=repeat)
        except Exception as error:  # one broken benchmark still lets the others print
            traceback.print_exc()
            line = f"{name}: FAILED ({error.__class__.__name__}: {str(error).splitlines()[0] if str(error) else ''})"
        print(f"[{name}] done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        print(line, flush=True)
        lines.append(line)
    print("\n== summary" + (" (quick: rough figures)" if args.quick else ""))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
