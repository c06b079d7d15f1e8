import asyncio
import sys

from bench.run import main

sys.exit(asyncio.run(main()))
