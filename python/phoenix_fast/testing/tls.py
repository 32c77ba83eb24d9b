"""A self-signed certificate for testing ``wss://`` and ``https://`` against a local server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["self_signed_certificate"]


def self_signed_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """Makes ``cert.pem`` and ``key.pem`` in ``folder``: a certificate for the IP address
    ``host``, valid for a day, with the ``openssl`` command.

    Returns:
        The certificate's path and the key's.

    Raises:
        FileNotFoundError: there is no ``openssl`` command on the PATH.
    """
    if shutil.which("openssl") is None:
        raise FileNotFoundError("making a test certificate needs the openssl command")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={host}",
         "-addext", f"subjectAltName=IP:{host}"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
