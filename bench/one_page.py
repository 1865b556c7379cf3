"""Time one page in a process of its own, so a page that takes minutes can be stopped: used for
the untuned admin's change pages, whose selects list every customer, vehicle and order. With
--runs, the median of that many runs (e.g. a repair order's page, while working on it)."""

import argparse
import json
import statistics
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--params", default="{}")
    parser.add_argument(
        "--runs", type=int, default=1, help="timed runs, after one to warm up if more than 1"
    )
    args = parser.parse_args(argv)

    from bench.run import captured, clients, get, setup_django, timed

    setup_django()
    client = clients()(args.user)
    params = json.loads(args.params)
    cpu = []

    def run():
        started = time.process_time()
        get(client, args.url, params)
        cpu.append((time.process_time() - started) * 1000)

    ms = timed(run, args.runs, warmup=int(args.runs > 1))
    queries = captured(client, args.url, params)
    # The process's CPU time too: on a busy machine, steadier than the time on the clock.
    cpu_ms = statistics.median(cpu[-args.runs :])
    print(json.dumps({"ms": ms, "cpu_ms": round(cpu_ms, 1), "queries": len(queries)}))


if __name__ == "__main__":
    main()
