#!/usr/bin/env python3
"""Builds (or reuses from build-bench/stores/) the preloaded benchmark store and verifies that
omnitraild starts on it and finds its customers via GET /api/v1/customers/lookup.
Default scale: issue #10's 1M customers / 10M interactions. Standard library only."""
import argparse
import json
import os
import sys

import benchlib


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--omnitraild", default=os.environ.get("OMNITRAILD", ""))
    ap.add_argument("--customers", type=int, default=1000000)
    ap.add_argument("--interactions", type=int, default=10000000)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if not args.omnitraild:
        sys.exit("--omnitraild or OMNITRAILD is required")
    if not 1 <= args.customers <= benchlib.MAX_CUSTOMERS:
        sys.exit("--customers must be 1..%d" % benchlib.MAX_CUSTOMERS)
    omni = os.path.abspath(args.omnitraild)
    meta = benchlib.preloaded_store(omni, args.customers, args.interactions,
                                    log=lambda m: print(m, file=sys.stderr))
    meta["verify"] = benchlib.verify_store(omni, meta["path"], args.customers)
    result = {"benchmark": "preload", "store": meta}
    if meta["verify"]["found"] != meta["verify"]["lookups"]:
        print("preload: omnitraild did not find every sampled customer: %s" % meta["verify"], file=sys.stderr)
    out = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")
    print(out)


if __name__ == "__main__":
    main()
