"""URL imports: http(s) only, and no loopback, private or link-local host unless allowed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REDIRECTS = 5


class URLRefused(ValueError):
    """A URL that may not be fetched; the message is safe to show."""


def _check_address(host: str, address: str, allow_private: bool) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast:
        raise URLRefused(f"{host} resolves to a multicast address")
    if ip.is_global:
        return
    if not allow_private:
        kind = (
            "loopback"
            if ip.is_loopback
            else "link-local"
            if ip.is_link_local
            else "unspecified"
            if ip.is_unspecified
            else "private or reserved"
        )
        raise URLRefused(
            f"{host} is a {kind} address ({ip}); URL imports from such hosts are refused "
            "unless the operations setting allow_private_urls is on"
        )


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL by scheme or by every address its host resolves to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise URLRefused("only http:// and https:// URLs can be imported")
    host = parts.hostname
    if not host:
        raise URLRefused("the URL has no host")
    if parts.username or parts.password:
        raise URLRefused("credentials inside the URL are not accepted")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise URLRefused("the URL's port is not valid") from exc
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise URLRefused(f"the host {host} cannot be resolved") from exc
    if not infos:
        raise URLRefused(f"the host {host} cannot be resolved")
    for info in infos:
        _check_address(host, str(info[4][0]), allow_private)


async def download(
    url: str,
    target: Path,
    *,
    allow_private: bool,
    timeout_s: float,
    max_bytes: int,
) -> tuple[Path, str | None]:
    """Stream a URL to a file, checking every redirect hop; returns (path, content type)."""
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as http:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(current, allow_private=allow_private)
            try:
                async with http.stream("GET", current) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("location")
                        if not location:
                            raise URLRefused("a redirect without a Location header")
                        current = urljoin(current, location)
                        continue
                    if resp.status_code != 200:
                        raise URLRefused(f"the server answered {resp.status_code} for {current}")
                    size = 0
                    out = await asyncio.to_thread(open, target, "wb")
                    try:
                        async for chunk in resp.aiter_bytes(1 << 20):
                            size += len(chunk)
                            if size > max_bytes:
                                raise URLRefused(
                                    f"the download is larger than the limit of {max_bytes} bytes"
                                )
                            await asyncio.to_thread(out.write, chunk)
                    finally:
                        out.close()
                    return target, resp.headers.get("content-type")
            except httpx.HTTPError as exc:
                raise URLRefused(f"the URL is unreachable: {exc}") from exc
        raise URLRefused(f"more than {MAX_REDIRECTS} redirects")
