"""Helpers for trying Relbuild from a phone on the same Wi-Fi (`make run HTTPS=1`).

    python scripts/phone.py url PORT      print https://<this machine's LAN address>:PORT
    python scripts/phone.py cert DIR      make a self-signed certificate for that address (and for BASE_URL's
                                          host when it is a name) in DIR
    python scripts/phone.py banner URL    print the URL and a QR code of it in the terminal
"""
import ipaddress
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit


def lan_address() -> str:
    """The address other devices on the network reach this machine at (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def _named_host() -> str | None:
    """BASE_URL's host when it is a name (passkeys need one), for the certificate to cover it too."""
    host = urlsplit(os.environ.get("BASE_URL", "")).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host if host and host != "localhost" and re.fullmatch(r"[A-Za-z0-9.-]+", host) else None
    return None


def make_cert(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    address, name = lan_address(), _named_host()
    names = f"IP:{address},DNS:localhost,IP:127.0.0.1" + (f",DNS:{name}" if name else "")
    stamp = folder / "address"
    if cert.exists() and stamp.exists() and stamp.read_text() == names:
        return
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=Relbuild development",
                    "-addext", f"subjectAltName={names}"],
                   check=True, capture_output=True)
    key.chmod(0o600)
    stamp.write_text(names)


def banner(url: str) -> None:
    import zxingcpp

    print(f"\nOpen {url} on your phone (same Wi-Fi), or scan:\n")
    image = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode).to_image(add_quiet_zones=True)
    height, width = image.shape
    dark = bytes(memoryview(image))
    # Two rows of modules a line, light on a dark terminal: a half block for each pair.
    for y in range(0, height, 2):
        print("".join(" ▄▀█"[(dark[y * width + x] >= 128) * 2 + (y + 1 < height and dark[(y + 1) * width + x] >= 128)]
                      for x in range(width)))
    print("The certificate is self-signed: accept the browser's warning once.\n")


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    if command == "url":
        print(f"https://{lan_address()}:{argument}")
    elif command == "cert":
        make_cert(Path(argument))
    elif command == "banner":
        banner(argument)
