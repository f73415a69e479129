"""A bare ASGI "hello" endpoint: the ceiling the benchmark compares openturk against.

Answers every HTTP request with 200 ``{}`` as AWS JSON 1.1, which boto3 parses as an empty (valid) output for
operations such as GetAccountBalance.  Served by uvicorn with the same settings ``openturk serve`` uses
(see openturk/cli.py): ``uvicorn.run(app, host=..., port=..., log_level=..., access_log=False)``.

    python bench/bare_app.py --port 8999
"""

from __future__ import annotations

import argparse
from typing import Any

BODY = b"{}"
HEADERS = [
    (b"content-type", b"application/x-amz-json-1.1"),
    (b"content-length", str(len(BODY)).encode()),
    (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000"),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    # Drain the request body, as a real handler would.
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = bool(message.get("more_body", False))
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
