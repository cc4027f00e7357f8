"""The address a staff login comes from, for django-axes' lockout (per username and address).

Not behind a proxy, it is the connection's address: X-Forwarded-For is then whatever the client
wrote, and trusting it would let a guesser pick a fresh address for every five guesses. Behind the
TLS proxy (BEHIND_PROXY=1), every connection comes from the proxy, so the lockout would be by
username alone and anyone could lock a real operator out (issue 12). The proxy appends the address
it saw to X-Forwarded-For (nginx: `$proxy_add_x_forwarded_for`); entries before it are the
client's own, so the right-most one is used. With more than one proxy in a chain, the last
proxy's view is the previous proxy: terminate TLS in one.
"""
from ipaddress import ip_address

from django.conf import settings


def client_ip(request) -> str | None:
    address = request.META.get("REMOTE_ADDR")
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        try:
            address = str(ip_address(forwarded))
        except ValueError:  # no header, or not an address: the proxy is not the one we expect
            pass
    return address
