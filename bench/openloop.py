"""``python -m bench.openloop URL --rate R --seconds S [--header 'Name: value' ...]``: an open-loop load generator.

Requests start at fixed times, ``R`` per second for ``S`` seconds, whether or not earlier ones have been answered
(hey's rate limit instead paces each of its workers, which then fire together). Each request's time counts from its
planned start, so a server falling behind shows in the latencies rather than in fewer requests. Prints what
:func:`bench.load.parse` reads (hey's CSV columns ``response-time``, ``status-code`` and ``offset``, in seconds); a
request that got no answer has status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import aiohttp

MAX_CONNECTIONS = 200


async def offer(url: str, rate: float, seconds: float, headers: dict[str, str]) -> list[tuple[float, int, float]]:
    """``(seconds from planned start to answer, status, planned offset)`` of every request, in planned order."""
    results: list[tuple[float, int, float]] = []
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as session:
        start = time.monotonic() + 0.05

        async def one(planned: float) -> None:
            status = 0
            try:
                async with session.get(url) as answer:
                    await answer.read()
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                pass
            results.append((time.monotonic() - planned, status, planned - start))

        tasks = []
        for n in range(int(rate * seconds)):
            planned = start + n / rate
            await asyncio.sleep(max(0.0, planned - time.monotonic()))
            tasks.append(asyncio.create_task(one(planned)))
        await asyncio.gather(*tasks)
    return sorted(results, key=lambda result: result[2])


def main() -> None:
    """Parse the command line, offer the load, print the CSV."""
    parser = argparse.ArgumentParser(prog="python -m bench.openloop", description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    options = parser.parse_args()
    headers = dict(header.split(": ", 1) for header in options.header)
    results = asyncio.run(offer(options.url, options.rate, options.seconds, headers))
    lines = ["response-time,status-code,offset", *(f"{taken:.4f},{status},{at:.4f}" for taken, status, at in results)]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
