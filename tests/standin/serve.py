"""A MongoDB wire-protocol server for the tests: mongoeco's proxy over its in-memory engine
(MongoDB 7.0 dialect, the oldest the product supports: reports use `$percentile`).

It runs in its own virtual environment (.venv-standin, Python 3.13 or newer, from
tests/standin/requirements.lock), made and started by `python3 run.py test` for the
stand-in pass, or by hand with `python3 run.py standin [PORT]`. It prints one line,
`ready mongodb://...`, once it accepts connections, and stops on SIGTERM or SIGINT.
Everything it holds is in memory and gone when it stops.

Not imported by the product or by pytest: this file runs under the stand-in's Python only."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import traceback

from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

DIALECT = "7.0"
# The PyMongo whose API the server's own client mimics (the tests connect with the
# project's PyMongo 4.x over the wire: this only names the closest profile mongoeco has).
PYMONGO_PROFILE = "4.19"


class LoudProxyServer(AsyncMongoEcoProxyServer):
    """mongoeco's proxy closes a connection without a word when its handler fails (the
    client then sees only "connection closed"): print the traceback on stderr first."""

    async def _handle_connection(self, reader, writer) -> None:  # type: ignore[override]
        try:
            await super()._handle_connection(reader, writer)
        except Exception:
            print("stand-in: a connection failed:", file=sys.stderr)
            traceback.print_exc()
            raise


async def serve(host: str, port: int) -> None:
    server = LoudProxyServer(host=host, port=port, mongodb_dialect=DIALECT,
                             pymongo_profile=PYMONGO_PROFILE)
    address = await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(name, stop.set)
    print(f"ready mongodb://{address.host}:{address.port}/?directConnection=true", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default): a free port")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
