"""Parley v1 crypto profile: an independent Python reference implementation.

Only PyNaCl (libsodium bindings) and the standard library are used, so the
vectors this produces are a cross-check on the Swift implementation rather
than a restatement of it.

Conventions: every key/secret/public value is raw ``bytes``; X25519 secrets are
32 raw bytes that are clamped by libsodium at use time (RFC 7748), so callers
may pass unclamped values.
"""

import hashlib
import hmac
import struct

from nacl import bindings as nb
from nacl.exceptions import BadSignatureError, CryptoError

try:  # ML-KEM-1024 (FIPS 203) in pure Python, for PQXDH; the classical vectors do not need it.
    from kyber_py.ml_kem import ML_KEM_1024
except ImportError:  # pragma: no cover - reported by generate.py when PQXDH vectors are checked
    ML_KEM_1024 = None

# --- Profile constants -------------------------------------------------------

SPK_SIGNATURE_CONTEXT = b"Parley SPK v1"
IDENTITY_SIGNATURE_CONTEXT = b"Parley identity v1"
X3DH_INFO = b"Parley X3DH v1"
PQXDH_INFO = b"Parley PQXDH X25519 SHA-256 ML-KEM-1024 v1"
KEM_PREKEY_SIGNATURE_CONTEXT = b"Parley PQPK v1"
KEM_TYPE_BYTE = b"\x08"      # in front of an encoded ML-KEM-1024 public key (libsignal's value)
KEM_PUBLIC_LEN = 1568
KEM_CIPHERTEXT_LEN = 1568
RATCHET_INFO = b"Parley Ratchet v1"
MESSAGE_INFO = b"Parley Message v1"

# X3DH prefixes the DH outputs with 32 0xFF bytes (the X25519 "F" of the
# Signal X3DH spec) so the KDF input can never collide with an XEdDSA input.
X3DH_F = b"\xff" * 32
ZERO_SALT = bytes(32)

HEADER_LEN = 40          # ratchet public (32) || PN u32 BE || N u32 BE
PAD_BLOCK = 160          # ISO/IEC 7816-4 padding granularity
SAFETY_ITERATIONS = 5200 # total SHA-512 invocations per fingerprint
MAX_SKIP = 1000          # bound on skipped message keys per chain (spec DoS guard)


# --- HKDF (RFC 5869), implemented here so it can be checked independently ----

def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    if length > 255 * 32:
        raise ValueError("HKDF-SHA256 output too long")
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


# --- Keys --------------------------------------------------------------------

def identity_keypair(seed: bytes):
    """Ed25519 identity from a 32-byte seed -> (public 32, libsodium secret 64)."""
    public, secret = nb.crypto_sign_seed_keypair(seed)
    return public, secret


def identity_dh_secret(identity_secret64: bytes) -> bytes:
    """X25519 form of an Ed25519 secret (clamped SHA-512(seed)[0:32])."""
    return nb.crypto_sign_ed25519_sk_to_curve25519(identity_secret64)


def identity_dh_public(identity_public: bytes) -> bytes:
    """X25519 (Montgomery) form of an Ed25519 public key; raises on invalid points."""
    return nb.crypto_sign_ed25519_pk_to_curve25519(identity_public)


def x25519_public(secret: bytes) -> bytes:
    return nb.crypto_scalarmult_base(secret)


def dh(secret: bytes, public: bytes) -> bytes:
    return nb.crypto_scalarmult(secret, public)


# --- Signed prekey -----------------------------------------------------------

def spk_signed_message(spk_id: int, spk_public: bytes) -> bytes:
    # The id is signed too, so a server cannot relabel one SPK as another.
    return SPK_SIGNATURE_CONTEXT + struct.pack(">I", spk_id) + spk_public


def sign_spk(identity_secret64: bytes, spk_id: int, spk_public: bytes) -> bytes:
    # crypto_sign returns signature || message; Ed25519 (RFC 8032) is
    # deterministic, so this signature is reproducible.
    signed = nb.crypto_sign(spk_signed_message(spk_id, spk_public), identity_secret64)
    return signed[:64]


def verify_spk(identity_public: bytes, spk_id: int, spk_public: bytes, signature: bytes) -> bool:
    try:
        nb.crypto_sign_open(signature + spk_signed_message(spk_id, spk_public), identity_public)
        return True
    except (BadSignatureError, CryptoError, ValueError):
        return False


# --- Identity binding ---------------------------------------------------------

def length_prefixed(data: bytes) -> bytes:
    # u32 big-endian length, as every Parley string.
    return struct.pack(">I", len(data)) + data


def identity_signed_message(username: str) -> bytes:
    # Binds the identity key to one account name (X3DH spec section 4.8).
    return IDENTITY_SIGNATURE_CONTEXT + length_prefixed(username.encode("utf-8"))


def sign_identity(identity_secret64: bytes, username: str) -> bytes:
    return nb.crypto_sign(identity_signed_message(username), identity_secret64)[:64]


def verify_identity(identity_public: bytes, username: str, signature: bytes) -> bool:
    try:
        nb.crypto_sign_open(signature + identity_signed_message(username), identity_public)
        return True
    except (BadSignatureError, CryptoError, ValueError):
        return False


# --- X3DH --------------------------------------------------------------------

def x3dh_kdf(dh_outputs) -> bytes:
    return hkdf(ZERO_SALT, X3DH_F + b"".join(dh_outputs), X3DH_INFO, 32)


def x3dh_initiator(alice_identity_secret64, alice_ephemeral_secret,
                   bob_identity_public, bob_spk_public, bob_otpk_public=None) -> bytes:
    """Alice's view: SK from her secrets and Bob's published bundle."""
    ik_a = identity_dh_secret(alice_identity_secret64)
    outputs = [
        dh(ik_a, bob_spk_public),                                             # DH1
        dh(alice_ephemeral_secret, identity_dh_public(bob_identity_public)),  # DH2
        dh(alice_ephemeral_secret, bob_spk_public),                           # DH3
    ]
    if bob_otpk_public is not None:
        outputs.append(dh(alice_ephemeral_secret, bob_otpk_public))           # DH4
    return x3dh_kdf(outputs)


def x3dh_responder(bob_identity_secret64, bob_spk_secret, alice_identity_public,
                   alice_ephemeral_public, bob_otpk_secret=None) -> bytes:
    """Bob's view: the same SK from his secrets and Alice's initial message."""
    ik_b = identity_dh_secret(bob_identity_secret64)
    outputs = [
        dh(bob_spk_secret, identity_dh_public(alice_identity_public)),  # DH1
        dh(ik_b, alice_ephemeral_public),                               # DH2
        dh(bob_spk_secret, alice_ephemeral_public),                     # DH3
    ]
    if bob_otpk_secret is not None:
        outputs.append(dh(bob_otpk_secret, alice_ephemeral_public))     # DH4
    return x3dh_kdf(outputs)


# --- PQXDH (X3DH plus an ML-KEM-1024 encapsulation) ---------------------------

def require_mlkem():
    if ML_KEM_1024 is None:
        raise RuntimeError("kyber-py is not installed (pip install kyber-py): needed for PQXDH")


def kem_keypair(seed64: bytes):
    """ML-KEM-1024 key pair from a 64-byte seed d || z (FIPS 203 ML-KEM.KeyGen_internal)
    -> (encapsulation key 1568, decapsulation key)."""
    require_mlkem()
    return ML_KEM_1024.key_derive(seed64)


def kem_encapsulate(encapsulation_key: bytes, m32: bytes):
    """Deterministic ML-KEM.Encaps_internal with randomness m -> (shared secret 32, ciphertext 1568)."""
    require_mlkem()
    return ML_KEM_1024._encaps_internal(encapsulation_key, m32)


def kem_decapsulate(decapsulation_key: bytes, ciphertext: bytes) -> bytes:
    require_mlkem()
    return ML_KEM_1024.decaps(decapsulation_key, ciphertext)


def kem_prekey_signed_message(kem_id: int, kem_public: bytes) -> bytes:
    return KEM_PREKEY_SIGNATURE_CONTEXT + struct.pack(">I", kem_id) + KEM_TYPE_BYTE + kem_public


def sign_kem_prekey(identity_secret64: bytes, kem_id: int, kem_public: bytes) -> bytes:
    return nb.crypto_sign(kem_prekey_signed_message(kem_id, kem_public), identity_secret64)[:64]


def verify_kem_prekey(identity_public: bytes, kem_id: int, kem_public: bytes, signature: bytes) -> bool:
    try:
        nb.crypto_sign_open(signature + kem_prekey_signed_message(kem_id, kem_public), identity_public)
        return True
    except (BadSignatureError, CryptoError, ValueError):
        return False


def pqxdh_kdf(dh_outputs, kem_shared_secret: bytes) -> bytes:
    return hkdf(ZERO_SALT, X3DH_F + b"".join(dh_outputs) + kem_shared_secret, PQXDH_INFO, 32)


def pqxdh_initiator(alice_identity_secret64, alice_ephemeral_secret, bob_identity_public,
                    bob_spk_public, bob_otpk_public, kem_shared_secret) -> bytes:
    ik_a = identity_dh_secret(alice_identity_secret64)
    outputs = [
        dh(ik_a, bob_spk_public),
        dh(alice_ephemeral_secret, identity_dh_public(bob_identity_public)),
        dh(alice_ephemeral_secret, bob_spk_public),
    ]
    if bob_otpk_public is not None:
        outputs.append(dh(alice_ephemeral_secret, bob_otpk_public))
    return pqxdh_kdf(outputs, kem_shared_secret)


def pqxdh_responder(bob_identity_secret64, bob_spk_secret, alice_identity_public,
                    alice_ephemeral_public, bob_otpk_secret, bob_kem_decapsulation_key, kem_ciphertext) -> bytes:
    ik_b = identity_dh_secret(bob_identity_secret64)
    outputs = [
        dh(bob_spk_secret, identity_dh_public(alice_identity_public)),
        dh(ik_b, alice_ephemeral_public),
        dh(bob_spk_secret, alice_ephemeral_public),
    ]
    if bob_otpk_secret is not None:
        outputs.append(dh(bob_otpk_secret, alice_ephemeral_public))
    return pqxdh_kdf(outputs, kem_decapsulate(bob_kem_decapsulation_key, kem_ciphertext))


def encode_pq_prekey_envelope(alice_identity_public, alice_ephemeral_public, spk_id, otpk_id,
                              kem_id, kem_ciphertext, header, ciphertext) -> bytes:
    """A first message: version 1 || kind 3 || IK || EK || SPK id || has OTPK || OTPK id ||
    KEM prekey id || KEM ciphertext || header || u32 BE ciphertext length || ciphertext."""
    return (b"\x01\x03" + alice_identity_public + alice_ephemeral_public + struct.pack(">I", spk_id)
            + (b"\x01" if otpk_id is not None else b"\x00") + struct.pack(">I", otpk_id or 0)
            + struct.pack(">I", kem_id) + kem_ciphertext + header
            + struct.pack(">I", len(ciphertext)) + ciphertext)


def associated_data(alice_identity_public: bytes, bob_identity_public: bytes,
                    alice_username: str, bob_username: str) -> bytes:
    # Initiator first: both sides must agree on the order. The usernames (length-prefixed)
    # bind each identity key to the account it speaks for, so a message relayed under another
    # name fails to decrypt (unknown key-share, X3DH spec section 4.8).
    return (alice_identity_public + bob_identity_public
            + length_prefixed(alice_username.encode("utf-8"))
            + length_prefixed(bob_username.encode("utf-8")))


# --- Double Ratchet primitives ----------------------------------------------

def kdf_rk(root_key: bytes, dh_output: bytes):
    okm = hkdf(root_key, dh_output, RATCHET_INFO, 64)
    return okm[:32], okm[32:]


def kdf_ck(chain_key: bytes):
    """-> (next chain key, message key)."""
    message_key = hmac.new(chain_key, b"\x01", hashlib.sha256).digest()
    next_chain_key = hmac.new(chain_key, b"\x02", hashlib.sha256).digest()
    return next_chain_key, message_key


def pad(plaintext: bytes) -> bytes:
    # The 0x80 marker is always added, so an exact multiple of the block
    # grows by a whole block; this hides lengths to 160-byte granularity.
    padded = plaintext + b"\x80"
    return padded + bytes(-len(padded) % PAD_BLOCK)


def unpad(padded: bytes) -> bytes:
    if not padded or len(padded) % PAD_BLOCK:
        raise ValueError("padded plaintext is not a positive multiple of the block size")
    stripped = padded.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise ValueError("missing ISO/IEC 7816-4 padding marker")
    return stripped[:-1]


def encode_header(ratchet_public: bytes, pn: int, n: int) -> bytes:
    return ratchet_public + struct.pack(">II", pn, n)


def decode_header(header: bytes):
    if len(header) != HEADER_LEN:
        raise ValueError("header must be 40 bytes")
    pn, n = struct.unpack(">II", header[32:])
    return header[:32], pn, n


def message_key_material(message_key: bytes):
    """Expand a message key into (XChaCha20-Poly1305 key, 24-byte nonce)."""
    okm = hkdf(ZERO_SALT, message_key, MESSAGE_INFO, 56)
    return okm[:32], okm[32:56]


def encrypt_message(message_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    key, nonce = message_key_material(message_key)
    return nb.crypto_aead_xchacha20poly1305_ietf_encrypt(pad(plaintext), aad, nonce, key)


def decrypt_message(message_key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    key, nonce = message_key_material(message_key)
    return unpad(nb.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key))


# --- Double Ratchet state machine (signal.org spec, section 3) --------------

class RatchetState:
    """One party's Double Ratchet session.

    ``new_ratchet_secret`` is a zero-argument callable returning a fresh 32-byte
    X25519 secret; injecting it (instead of drawing randomness) is what makes
    the test vectors deterministic and lets the checker replay recorded keys.

    The ``*_root`` / ``*_chain_start`` attributes are diagnostics only: they
    record the root key and chain key produced for the latest sending and
    receiving chains so a harness can confirm both parties derived the same
    values on every DH ratchet step.
    """

    def __init__(self, root_key, associated_data_bytes, new_ratchet_secret):
        self.rk = root_key
        self.ad = associated_data_bytes
        self._new_secret = new_ratchet_secret
        self.dhs_secret = None
        self.dhs_public = None
        self.dhr = None
        self.cks = None
        self.ckr = None
        self.ns = 0
        self.nr = 0
        self.pn = 0
        self.skipped = {}  # (ratchet public, n) -> message key
        self.sending_root = None
        self.sending_chain_start = None
        self.receiving_root = None
        self.receiving_chain_start = None

    @classmethod
    def init_alice(cls, shared_secret, ad, bob_ratchet_public, new_ratchet_secret):
        state = cls(shared_secret, ad, new_ratchet_secret)
        state._set_own_ratchet(new_ratchet_secret())
        state.dhr = bob_ratchet_public
        state.rk, state.cks = kdf_rk(state.rk, dh(state.dhs_secret, state.dhr))
        state.sending_root, state.sending_chain_start = state.rk, state.cks
        return state

    @classmethod
    def init_bob(cls, shared_secret, ad, bob_spk_secret, new_ratchet_secret):
        # Bob's first ratchet key is his signed prekey; he cannot send until
        # Alice's first message gives him a receiving chain and a DH ratchet.
        state = cls(shared_secret, ad, new_ratchet_secret)
        state._set_own_ratchet(bob_spk_secret)
        return state

    def _set_own_ratchet(self, secret):
        self.dhs_secret = secret
        self.dhs_public = x25519_public(secret)

    def encrypt(self, plaintext: bytes):
        """-> (header 40 bytes, ciphertext||tag)."""
        if self.cks is None:
            raise RuntimeError("no sending chain yet (responder must receive first)")
        self.cks, message_key = kdf_ck(self.cks)
        header = encode_header(self.dhs_public, self.pn, self.ns)
        self.ns += 1
        return header, encrypt_message(message_key, plaintext, self.ad + header)

    def decrypt(self, header: bytes, ciphertext: bytes) -> bytes:
        """Spec RatchetDecrypt. Raises on failure; the state is then unusable
        (the spec's rollback is not needed for vector generation)."""
        ratchet_public, pn, n = decode_header(header)
        skipped_key = self.skipped.pop((ratchet_public, n), None)
        if skipped_key is not None:
            return decrypt_message(skipped_key, ciphertext, self.ad + header)
        if ratchet_public != self.dhr:
            self._skip_message_keys(pn)
            self._dh_ratchet(ratchet_public)
        self._skip_message_keys(n)
        self.ckr, message_key = kdf_ck(self.ckr)
        self.nr += 1
        return decrypt_message(message_key, ciphertext, self.ad + header)

    def _skip_message_keys(self, until: int):
        if self.nr + MAX_SKIP < until:
            raise RuntimeError("too many skipped messages")
        if self.ckr is not None:
            while self.nr < until:
                self.ckr, message_key = kdf_ck(self.ckr)
                self.skipped[(self.dhr, self.nr)] = message_key
                self.nr += 1

    def _dh_ratchet(self, their_ratchet_public: bytes):
        self.pn = self.ns
        self.ns = 0
        self.nr = 0
        self.dhr = their_ratchet_public
        self.rk, self.ckr = kdf_rk(self.rk, dh(self.dhs_secret, self.dhr))
        self.receiving_root, self.receiving_chain_start = self.rk, self.ckr
        self._set_own_ratchet(self._new_secret())
        self.rk, self.cks = kdf_rk(self.rk, dh(self.dhs_secret, self.dhr))
        self.sending_root, self.sending_chain_start = self.rk, self.cks


# --- Safety number -----------------------------------------------------------

def fingerprint_digits(identity_public: bytes, username: str) -> str:
    """30-digit per-party half of the safety number."""
    h = hashlib.sha512(b"\x00\x00" + identity_public + username.encode("utf-8")).digest()
    for _ in range(SAFETY_ITERATIONS - 1):
        h = hashlib.sha512(h + identity_public).digest()
    return "".join(
        "%05d" % (int.from_bytes(h[i:i + 5], "big") % 100000) for i in range(0, 30, 5)
    )


def safety_number(alice_public, alice_username, bob_public, bob_username) -> str:
    # Sorting makes the number identical on both devices regardless of who
    # computes it.
    halves = sorted([fingerprint_digits(alice_public, alice_username),
                     fingerprint_digits(bob_public, bob_username)])
    return halves[0] + halves[1]
