"""Who may reach the studio's server: loopback binds, and the Host names it answers to.

A server on 127.0.0.1 is still reachable from any web page the user opens, through DNS
rebinding: ``attacker.example`` first resolves to the attacker's server, then to 127.0.0.1,
and the page's scripts talk to the studio as ``attacker.example``. Only the ``Host`` header
still names the attacker, so the server must refuse names it does not know. Streamlit
checks it on its websocket (every page and action goes through it) against
``server.allowedHosts``; :func:`allowed_hosts` computes that list.
"""

from __future__ import annotations

import socket

from .accounts import is_loopback

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def exposure_warning(address: str, port: int) -> str | None:
    """The warning to print before serving on ``address`` without sign-in, or ``None`` on
    loopback.

    Examples
    --------
    >>> exposure_warning("127.0.0.1", 8501) is None
    True
    >>> "without sign-in" in exposure_warning("0.0.0.0", 8501)
    True
    """
    if is_loopback(address):
        return None
    where = "every network interface" if address in WILDCARD_BINDS else address
    return (
        f"serving on {where} (port {port}) without sign-in (--no-sign-in): anyone who can "
        f"reach the port can see, label, export and delete every project. Add an account "
        f"(sslabel users add NAME --role owner) unless every machine on the network is "
        f"trusted."
    )


def allowed_hosts(address: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Host names the server should accept: the loopback names, the bind address, and for
    a non-loopback bind this machine's names and addresses; plus ``extra`` (e.g. the name
    of a proxy in front; ``"*"`` accepts any).

    Examples
    --------
    >>> allowed_hosts("127.0.0.1")
    ['localhost', '127.0.0.1', '::1']
    >>> allowed_hosts("127.0.0.1", ["labels.example.org"])[-1]
    'labels.example.org'
    """
    names = list(LOOPBACK_NAMES)
    if address not in WILDCARD_BINDS:
        names.append(address.strip("[]"))
    if not is_loopback(address):
        names += _machine_names()
    names += [name.strip() for name in extra if name.strip()]
    return list(dict.fromkeys(name.lower() for name in names))


def _machine_names() -> list[str]:
    """This machine's host name, full name and addresses, as others on the network use them."""
    names = [socket.gethostname(), socket.getfqdn()]
    try:
        names += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)]
    except OSError:
        pass
    try:
        # Connecting a UDP socket sends nothing; it only picks the outgoing interface.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1, never routed
            names.append(probe.getsockname()[0])
    except OSError:
        pass
    return [name for name in names if name]
