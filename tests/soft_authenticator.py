"""A software passkey authenticator (ES256, "none" attestation) for server-level WebAuthn tests.

It builds what a browser sends: clientDataJSON, authenticator data, attestation object and
signature, exactly as the WebAuthn spec lays them out, so tests can also send what a browser
never would (another origin, no user verification, a counter that does not move, a replay).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SoftAuthenticator:
    def __init__(self, origin: str):
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0
        self.user_handle: str | None = None
        self.rp_id: str | None = None

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin,
                           "crossOrigin": False}).encode()

    def create(self, options: dict, *, origin: str | None = None, verified: bool = True) -> dict:
        """navigator.credentials.create(): a new discoverable credential for options['user']."""
        self.rp_id, self.user_handle = options["rp"]["id"], options["user"]["id"]
        numbers = self.key.public_key().public_numbers()
        cose_key = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                                -3: numbers.y.to_bytes(32, "big")})
        auth_data = (hashlib.sha256(self.rp_id.encode()).digest() + bytes([UP | (UV if verified else 0) | AT])
                     + self.sign_count.to_bytes(4, "big") + bytes(16)
                     + len(self.credential_id).to_bytes(2, "big") + self.credential_id + cose_key)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(self._client_data("webauthn.create", options["challenge"], origin)),
                             "attestationObject": b64(attestation), "transports": ["internal"]}}

    def get(self, options: dict, *, origin: str | None = None, verified: bool = True, count: bool = True,
            rp_id: str | None = None) -> dict:
        """navigator.credentials.get(): an assertion over options['challenge'], counter moved by one."""
        if count:
            self.sign_count += 1
        rp = rp_id or options.get("rpId") or self.rp_id
        auth_data = (hashlib.sha256(rp.encode()).digest() + bytes([UP | (UV if verified else 0)])
                     + self.sign_count.to_bytes(4, "big"))
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(client_data), "authenticatorData": b64(auth_data),
                             "signature": b64(signature), "userHandle": self.user_handle}}
