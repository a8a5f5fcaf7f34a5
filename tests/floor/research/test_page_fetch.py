"""Fetch is pinned to the address it checked: one resolution per hop, the connection to an address
that passed, the host name for TLS and Host; and the IPv6 forms that carry IPv4 count as that IPv4.

Name resolution is a resolver the test scripts; a route from a public-looking address to the
small web on loopback stands in for the internet (``socket.create_connection``, the network's
edge, not fetch's own code).
"""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import threading

import pytest

from floor.research.page_fetch import FetchRefused, fetch_page, is_public_address
from tests.fakes.web_server import WebServer

PUBLIC = "93.184.215.14"
PAGE = "<html><head><title>Hello</title></head><body><main><p>pinned page</p></main></body></html>"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "224.0.0.1",
        "224.0.1.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a01:203",  # NAT64 of 10.1.2.3
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::5db8:d70e",  # local-use NAT64, whatever it carries
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
        "::ffff:0:127.0.0.1",  # IPv4-translated (SIIT)
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "2001::1",
    ],
)
def test_special_addresses_are_private(address):
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC,
        "8.8.8.8",
        "2606:4700:4700::1111",
        "2a00:1450:4001:81c::200e",
        "64:ff9b::5db8:d70e",  # NAT64 of a public address
        "::ffff:93.184.215.14",
        "2002:5db8:d70e::1",  # 6to4 of a public address
    ],
)
def test_public_addresses_and_the_forms_carrying_them_are_public(address):
    assert is_public_address(address)


class ScriptedResolver:
    """Answers each call with the next scripted answer (the last one again when they run out)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


@pytest.fixture
def web():
    with WebServer() as server:
        server.page("/news", PAGE)
        yield server


@pytest.fixture
def routed(monkeypatch, web):
    """Connections to PUBLIC reach the small web on loopback; every address dialled is recorded."""
    dialled: list[tuple[str, int]] = []
    connect = socket.create_connection

    def create_connection(address, *args, **kwargs):
        dialled.append(tuple(address[:2]))
        if address[0] == PUBLIC:
            address = ("127.0.0.1", web.port)
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return dialled


def test_dns_rebinding_after_the_check_cannot_reach_loopback(web, routed):
    resolver = ScriptedResolver([PUBLIC], ["127.0.0.1"])  # public at the check, loopback after
    url = f"http://rebind.example:{web.port}/news"
    page = fetch_page(url, max_chars=10_000, timeout=5, resolver=resolver)
    assert "pinned page" in page.text
    assert resolver.calls == [("rebind.example", web.port)]  # resolved once
    assert routed == [(PUBLIC, web.port)]  # and connected to the address that passed
    (request,) = web.requests
    assert request.headers["Host"] == f"rebind.example:{web.port}"


def test_with_private_addresses_allowed_the_first_answer_is_still_the_one_used(web):
    resolver = ScriptedResolver(["127.0.0.1"], ["10.255.255.1"])
    page = fetch_page(
        f"http://loop.example:{web.port}/news",
        max_chars=10_000,
        timeout=5,
        allow_private=True,
        resolver=resolver,
    )
    assert "pinned page" in page.text and len(resolver.calls) == 1
    assert web.requests[0].headers["Host"] == f"loop.example:{web.port}"


def test_every_address_is_checked_and_every_redirect_hop_too(web, routed):
    mixed = ScriptedResolver([PUBLIC, "10.0.0.7"])
    with pytest.raises(FetchRefused, match="loopback or private-network"):
        fetch_page(f"http://mixed.example:{web.port}/news", max_chars=1000, timeout=5, resolver=mixed)
    assert routed == [] and web.requests == []

    web.redirect("/hop", f"http://inside.example:{web.port}/news")
    by_host = {"outside.example": [PUBLIC], "inside.example": ["127.0.0.1"]}
    calls = []

    def resolver(host, port):
        calls.append(host)
        return by_host[host]

    with pytest.raises(FetchRefused, match="inside.example is a loopback or private-network"):
        fetch_page(f"http://outside.example:{web.port}/hop", max_chars=1000, timeout=5, resolver=resolver)
    assert calls == ["outside.example", "inside.example"]
    assert [r.path for r in web.requests] == ["/hop"]  # the private hop was never connected to

    by_host["inside.example"] = [PUBLIC]
    page = fetch_page(f"http://outside.example:{web.port}/hop", max_chars=1000, timeout=5, resolver=resolver)
    assert page.final_url == f"http://inside.example:{web.port}/news"
    assert web.requests[-1].headers["Host"] == f"inside.example:{web.port}"


def test_an_unresolvable_host_is_refused():
    with pytest.raises(FetchRefused, match="cannot resolve"):
        fetch_page("http://nowhere.example/", max_chars=1000, timeout=5, resolver=ScriptedResolver([]))

    def failing(host, port):
        raise socket.gaierror(-2, "Name or service not known")

    with pytest.raises(FetchRefused, match="cannot resolve"):
        fetch_page("http://nowhere.example/", max_chars=1000, timeout=5, resolver=failing)


def certificate(tmp_path, name: str) -> tuple[str, str]:
    """A self-signed certificate and key for ``name``, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


def test_tls_gets_the_host_name_while_the_connection_goes_to_the_pinned_address(tmp_path):
    cert_file, key_file = certificate(tmp_path, "pinned.example")
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert_file, key_file)
    names_asked: list[str | None] = []
    server_side.sni_callback = lambda sock, name, ctx: names_asked.append(name)
    web = WebServer()
    web.page("/news", PAGE)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), web.handler_class())
    server.daemon_threads = True
    server.socket = server_side.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    trust = ssl.create_default_context(cafile=cert_file)
    try:
        resolver = ScriptedResolver(["127.0.0.1"], ["10.255.255.1"])
        page = fetch_page(
            f"https://pinned.example:{port}/news",
            max_chars=1000,
            timeout=5,
            allow_private=True,
            resolver=resolver,
            verify=trust,
        )
        assert "pinned page" in page.text and len(resolver.calls) == 1
        assert names_asked == ["pinned.example"]  # SNI: the host name, not 127.0.0.1
        assert web.requests[0].headers["Host"] == f"pinned.example:{port}"
        # The certificate is checked against the host name too: another name fails.
        with pytest.raises(FetchRefused, match="could not fetch"):
            fetch_page(
                f"https://other.example:{port}/news",
                max_chars=1000,
                timeout=5,
                allow_private=True,
                resolver=ScriptedResolver(["127.0.0.1"]),
                verify=trust,
            )
        assert len(web.requests) == 1
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url", ["http://[", "gopher://]x", "https://[::1/", "http://[not-an-address]/"])
def test_a_malformed_url_is_refused_not_raised(url):
    with pytest.raises(FetchRefused, match="not valid"):
        fetch_page(url, max_chars=1000, timeout=5, resolver=ScriptedResolver([PUBLIC]))


def test_a_redirect_to_a_malformed_address_is_refused(web, routed):
    web.redirect("/bad-hop", "http://[")
    with pytest.raises(FetchRefused, match="redirected to an address that is not valid"):
        fetch_page(
            f"http://outside.example:{web.port}/bad-hop",
            max_chars=1000,
            timeout=5,
            resolver=ScriptedResolver([PUBLIC]),
        )
