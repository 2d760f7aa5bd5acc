"""Which browsers' requests the server takes: known ``Host`` headers, same-origin writes.

Without these checks any web page a user opens could write to a server on their machine
(a cross-site form POST enrols a face) and, through DNS rebinding (a site's name resolved
to 127.0.0.1), read it. So, by default:

- ``Host`` must name this server: ``localhost`` (or ``*.localhost``), an IP address (a
  rebinding site always has a name), or the host it listens on; else 400 ``bad_request``.
  ``--allowed-host`` adds names (``*`` allows any).
- A write (POST, PUT, PATCH, DELETE) from a browser must come from the server's own origin:
  ``Sec-Fetch-Site: cross-site``, or an ``Origin`` (else ``Referer``) that is neither the
  server's own ``host:port`` (as the ``Host`` header names it, in either scheme: a TLS proxy
  in front is http to the server) nor an ``--allowed-origin``, gets 403 ``forbidden``
  (a page of an ``--allowed-origin`` passes, though its browser calls it cross-site).
  Clients that send neither header (curl, scripts) are not browsers and pass.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LOCAL_NAMES = ("localhost",)
ANY = "*"


def host_name(host: str) -> str:
    """``host[:port]`` (or ``[v6]:port``) without the port, lower case, no trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    name, _, port = host.partition(":")
    if port and not port.isdigit():  # not host:port (a browser never sends that): no match
        return host
    return name.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL (the default port dropped), or None if it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{host}" + ("" if port in (None, default) else f":{port}")


class SitePolicy:
    """The Host and Origin rules above, for a server bound to ``bound_host``."""

    def __init__(self, bound_host: str | None = None, allowed_hosts=(), allowed_origins=()):
        """ValueError for an allowed host or origin that cannot match anything (a typo must not
        pass silently)."""
        for h in allowed_hosts:
            if not h.strip() or any(c in h for c in "/@ "):
                raise ValueError(f"--allowed-host {h!r} is not a host name (e.g. faces.example.org, or *)")
        for o in allowed_origins:
            if origin_of(o) is None or urlsplit(o.strip()).path not in ("", "/"):
                raise ValueError(f"--allowed-origin {o!r} is not an origin (scheme://host[:port], "
                                 "e.g. https://app.example.org)")
        self.any_host = ANY in allowed_hosts
        self.hosts = {host_name(h) for h in (*allowed_hosts, bound_host or "") if h and h != ANY}
        self.origins = {origin_of(x) for x in allowed_origins}

    def host_allowed(self, host: str) -> bool:
        name = host_name(host)
        return (self.any_host or name in self.hosts or name in LOCAL_NAMES or name.endswith(".localhost")
                or _is_ip(name))

    def refusal(self, method: str, headers: dict) -> tuple[int, str, str] | None:
        """(status, code, message) for a request these rules refuse, else None."""
        host = headers.get("host")
        if host is not None and not self.host_allowed(host):
            return 400, "bad_request", (f"unknown Host header {host_name(host)!r}: this server answers to localhost, "
                                     "its IP addresses and --allowed-host names")
        if method.upper() in SAFE_METHODS:
            return None
        given = headers.get("origin") or headers.get("referer")
        origin = origin_of(given) if given is not None else None
        if origin is not None and origin in self.origins:  # another site, allowed by name
            return None
        if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
            return 403, "forbidden", "cross-site request refused: writes must come from this server's own page"
        if given is None:
            return None
        # the page's own origin, in the page's scheme: behind a TLS proxy the server sees http
        own = origin_of(f"{origin.split(':', 1)[0]}://{host}") if host and origin else None
        if origin is None or origin != own:
            shown = origin or given[:100]
            return 403, "forbidden", (f"cross-origin request from {shown!r} refused: writes must come from this "
                                      "server's own page (or an --allowed-origin)")
        return None
