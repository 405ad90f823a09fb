"""The socket several workers share: the connections it accepts get TCP_NODELAY (no delayed-ACK wait)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from openidds.web.server import listening_socket


async def _nodelay_of_accepted(listener: socket.socket) -> int:
    """TCP_NODELAY of the connection asyncio accepts on ``listener`` (as a uvicorn worker does)."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    async with server:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        value = await asyncio.wait_for(accepted, 10)
        writer.close()
    return value


def test_the_workers_socket_is_tcp_and_its_connections_get_nodelay() -> None:
    config = uvicorn.Config("openidds.web.server:app_from_environment", factory=True, host="127.0.0.1", port=0,
                            workers=2)
    listener = listening_socket(config)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        assert listener.get_inheritable()
        listener.listen()
        assert asyncio.run(_nodelay_of_accepted(listener)) == 1
    finally:
        listener.close()
