"""``python -m cryptotrack.simulators.messengers --port N``: serve it in the foreground.

Prints ``messengers simulator listening on http://host:port`` once bound; every service
is open (any bot token, webhook or topic works). Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cryptotrack.simulators.messengers.app import build_app
from cryptotrack.simulators.messengers.state import MessengersState
from cryptotrack.simulators.serving import serve_forever


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cryptotrack.simulators.messengers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve_forever(
        build_app(MessengersState()), host=args.host, port=args.port, name="messengers simulator"
    )


if __name__ == "__main__":
    main()
