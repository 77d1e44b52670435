#!/usr/bin/env python3
"""Generate or check the Parley v1 JSON test vectors.

    python3 Tools/vectors/generate.py --write            # regenerate Tests/Vectors/*.json
    python3 Tools/vectors/generate.py --check            # verify the committed files
    python3 Tools/vectors/generate.py --check --dir DIR  # verify files in another folder

--check never trusts output fields: it recomputes them from the input fields of
the files being checked, and also enforces the structural requirements (case
counts, null OTPKs, edge-case ids and lengths, ...) so a future edit cannot
silently weaken the vectors.
"""

import argparse
import hashlib
import json
import os
import re
import sys

from nacl import bindings as nb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parley_profile as pp  # noqa: E402

DEFAULT_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Vectors"))
U32_MAX = 0xFFFFFFFF


# --- Deterministic inputs ----------------------------------------------------

def seed(label: str) -> bytes:
    """Every vector input is SHA-256 of a readable label, so --write is byte-stable."""
    return hashlib.sha256(b"parley-vector " + label.encode("ascii")).digest()


def stream(label: str, length: int) -> bytes:
    """Deterministic pseudo-random bytes of any length (SHA-256 in counter mode)."""
    out, counter = b"", 0
    while len(out) < length:
        out += seed("%s block %d" % (label, counter))
        counter += 1
    return out[:length]


# --- Hex / structure helpers -------------------------------------------------

class CheckError(Exception):
    pass


HEX_RE = re.compile(r"^(?:[0-9a-f]{2})*$")


def hx(data: bytes) -> str:
    return data.hex()


def unhex(value, where, length=None):
    if not isinstance(value, str) or not HEX_RE.match(value):
        raise CheckError("%s: expected lowercase hex string, got %r" % (where, value))
    data = bytes.fromhex(value)
    if length is not None and len(data) != length:
        raise CheckError("%s: expected %d bytes, got %d" % (where, length, len(data)))
    return data


def require_keys(obj, keys, where):
    if not isinstance(obj, dict) or list(obj.keys()) != list(keys):
        got = list(obj.keys()) if isinstance(obj, dict) else type(obj).__name__
        raise CheckError("%s: expected fields %s in that order, got %s" % (where, list(keys), got))


def require_u32(value, where):
    # bool is an int subclass in Python; JSON true must not pass as an id.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U32_MAX:
        raise CheckError("%s: expected a u32 JSON number, got %r" % (where, value))
    return value


def preview(hex_string: str) -> str:
    # Ciphertexts run to kilobytes; the first differing region is enough.
    if len(hex_string) <= 140:
        return hex_string
    return "%s... (%d bytes)" % (hex_string[:128], len(hex_string) // 2)


def compare(errors, where, field, expected_hex, actual: bytes):
    if expected_hex != hx(actual):
        errors.append("%s: %s mismatch\n    file:     %s\n    computed: %s"
                      % (where, field, preview(expected_hex), preview(hx(actual))))


def dump(doc) -> str:
    # Key order is the insertion order used below (the documented field order).
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


# --- Primitive self-tests (known-answer tests from the RFCs) ----------------

def kat(condition, name):
    # Explicit raise rather than `assert`, which python -O would strip.
    if not condition:
        raise AssertionError(name)


def check_primitives():
    # RFC 5869 test case 1 (HKDF-SHA256), required by the profile.
    ikm = bytes([0x0B] * 22)
    salt = bytes(range(0x00, 0x0D))
    info = bytes(range(0xF0, 0xFA))
    prk = pp.hkdf_extract(salt, ikm)
    okm = pp.hkdf_expand(prk, info, 42)
    kat(prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
        "RFC 5869 case 1 PRK")
    kat(okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                      "34007208d5b887185865"), "RFC 5869 case 1 OKM")
    # RFC 7748 section 6.1 (X25519).
    a_sec = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b_pub = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    kat(pp.x25519_public(a_sec).hex()
        == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", "RFC 7748 public")
    kat(pp.dh(a_sec, b_pub).hex()
        == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", "RFC 7748 shared")
    # RFC 8032 section 7.1 test 1 (Ed25519, empty message).
    pub, sec = pp.identity_keypair(bytes.fromhex(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
    kat(pub.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "RFC 8032 public")
    kat(nb.crypto_sign(b"", sec)[:64].hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
        "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"), "RFC 8032 signature")
    # Padding edge cases stated in the profile.
    for n, padded in ((0, 160), (1, 160), (159, 160), (160, 320), (161, 320)):
        kat(len(pp.pad(bytes(n))) == padded, "padding of %d bytes" % n)
        kat(pp.unpad(pp.pad(bytes(n))) == bytes(n), "unpadding of %d bytes" % n)
    return "primitives: RFC 5869 / RFC 7748 / RFC 8032 / padding ok"


# --- X3DH --------------------------------------------------------------------

X3DH_FIELDS = ["alice_identity_seed", "bob_identity_seed", "alice_username", "bob_username",
               "bob_spk_id", "bob_spk_secret", "bob_otpk_id", "bob_otpk_secret",
               "alice_ephemeral_secret", "spk_signature", "alice_identity_signature",
               "bob_identity_signature", "shared_secret", "associated_data"]

# (spk id, otpk id or None): covers 0, u32 max, the sign bit, and both DH3/DH4 variants.
X3DH_PLAN = [(0, 1), (U32_MAX, None), (1, U32_MAX), (0x12345678, None), (7, 0),
             (0x80000000, 0x7FFFFFFF)]
# (alice username, bob username) per case: the shortest and longest names, punctuation, and
# names that are prefixes of each other (which the length prefixes keep apart).
X3DH_NAMES = [("alice", "bob"), ("abc", "a.long-username_with.punct-01234"), ("bob", "alice"),
              ("carol.d", "x_1-2"), ("dan", "dana"), ("eve_9", "mallory")]

X3DH_DESCRIPTION = (
    "Parley v1 X3DH vectors. Inputs: Ed25519 identity seeds (32 bytes, "
    "crypto_sign_seed_keypair), raw 32-byte X25519 secrets (clamped when used), "
    "u32 prekey ids; bob_otpk_id/bob_otpk_secret null means no one-time prekey (no DH4). "
    "Outputs: spk_signature = Ed25519(bob identity, 'Parley SPK v1' || id u32 BE || SPK public) "
    "(deterministic RFC 8032; an implementation with randomized signing should verify it "
    "instead of comparing bytes); shared_secret = HKDF-SHA256(salt 32x00, "
    "32x0xFF || DH1 || DH2 || DH3 [|| DH4], 'Parley X3DH v1', 32) with identity keys in "
    "X25519 form; {alice,bob}_identity_signature = Ed25519(identity, 'Parley identity v1' || "
    "u32 BE length || username UTF-8) (the registration binding); associated_data = alice "
    "identity public || bob identity public || u32 BE len || alice username || u32 BE len || "
    "bob username. Generated by Tools/vectors/generate.py.")


def x3dh_outputs(alice_seed, bob_seed, alice_name, bob_name, spk_id, spk_secret, otpk_secret,
                 ephemeral_secret):
    """Compute outputs from Alice's side, and assert Bob's side agrees."""
    alice_pub, alice_sec = pp.identity_keypair(alice_seed)
    bob_pub, bob_sec = pp.identity_keypair(bob_seed)
    bindings = (pp.sign_identity(alice_sec, alice_name), pp.sign_identity(bob_sec, bob_name))
    if not (pp.verify_identity(alice_pub, alice_name, bindings[0])
            and pp.verify_identity(bob_pub, bob_name, bindings[1])):
        raise CheckError("identity signature does not verify")
    if pp.verify_identity(alice_pub, bob_name, bindings[0]):
        raise CheckError("identity signature verifies for another username")
    spk_public = pp.x25519_public(spk_secret)
    otpk_public = pp.x25519_public(otpk_secret) if otpk_secret is not None else None
    signature = pp.sign_spk(bob_sec, spk_id, spk_public)
    if not pp.verify_spk(bob_pub, spk_id, spk_public, signature):
        raise CheckError("SPK signature does not verify")
    sk_alice = pp.x3dh_initiator(alice_sec, ephemeral_secret, bob_pub, spk_public, otpk_public)
    sk_bob = pp.x3dh_responder(bob_sec, spk_secret, alice_pub,
                               pp.x25519_public(ephemeral_secret), otpk_secret)
    if sk_alice != sk_bob:
        raise CheckError("initiator and responder derived different shared secrets")
    return signature, bindings, sk_alice, pp.associated_data(alice_pub, bob_pub, alice_name, bob_name)


def build_x3dh():
    cases = []
    for i, (spk_id, otpk_id) in enumerate(X3DH_PLAN):
        label = "x3dh case %d " % i
        alice_seed, bob_seed = seed(label + "alice identity seed"), seed(label + "bob identity seed")
        spk_secret = seed(label + "bob spk secret")
        otpk_secret = seed(label + "bob otpk secret") if otpk_id is not None else None
        ephemeral = seed(label + "alice ephemeral secret")
        alice_name, bob_name = X3DH_NAMES[i]
        sig, bindings, sk, ad = x3dh_outputs(alice_seed, bob_seed, alice_name, bob_name, spk_id,
                                             spk_secret, otpk_secret, ephemeral)
        cases.append({
            "alice_identity_seed": hx(alice_seed),
            "bob_identity_seed": hx(bob_seed),
            "alice_username": alice_name,
            "bob_username": bob_name,
            "bob_spk_id": spk_id,
            "bob_spk_secret": hx(spk_secret),
            "bob_otpk_id": otpk_id,
            "bob_otpk_secret": hx(otpk_secret) if otpk_secret is not None else None,
            "alice_ephemeral_secret": hx(ephemeral),
            "spk_signature": hx(sig),
            "alice_identity_signature": hx(bindings[0]),
            "bob_identity_signature": hx(bindings[1]),
            "shared_secret": hx(sk),
            "associated_data": hx(ad),
        })
    return {"description": X3DH_DESCRIPTION, "cases": cases}


def check_x3dh(doc):
    errors, cases = [], doc["cases"]
    if len(cases) < 5:
        errors.append("need at least 5 cases, found %d" % len(cases))
    no_otpk, ids, usernames = 0, set(), set()
    for i, case in enumerate(cases):
        where = "case %d" % i
        try:
            require_keys(case, X3DH_FIELDS, where)
            spk_id = require_u32(case["bob_spk_id"], where + " bob_spk_id")
            ids.add(spk_id)
            if (case["bob_otpk_id"] is None) != (case["bob_otpk_secret"] is None):
                raise CheckError(where + ": bob_otpk_id and bob_otpk_secret must both be null or both set")
            otpk_secret = None
            if case["bob_otpk_id"] is None:
                no_otpk += 1
            else:
                ids.add(require_u32(case["bob_otpk_id"], where + " bob_otpk_id"))
                otpk_secret = unhex(case["bob_otpk_secret"], where + " bob_otpk_secret", 32)
            names = []
            for party in ("alice", "bob"):
                name = case[party + "_username"]
                if not isinstance(name, str) or not USERNAME_RE.match(name):
                    raise CheckError("%s: %s_username must be a Parley username" % (where, party))
                names.append(name)
            usernames.update(names)
            sig, bindings, sk, ad = x3dh_outputs(
                unhex(case["alice_identity_seed"], where + " alice_identity_seed", 32),
                unhex(case["bob_identity_seed"], where + " bob_identity_seed", 32),
                names[0], names[1],
                spk_id,
                unhex(case["bob_spk_secret"], where + " bob_spk_secret", 32),
                otpk_secret,
                unhex(case["alice_ephemeral_secret"], where + " alice_ephemeral_secret", 32))
            compare(errors, where, "spk_signature", case["spk_signature"], sig)
            compare(errors, where, "alice_identity_signature", case["alice_identity_signature"], bindings[0])
            compare(errors, where, "bob_identity_signature", case["bob_identity_signature"], bindings[1])
            compare(errors, where, "shared_secret", case["shared_secret"], sk)
            compare(errors, where, "associated_data", case["associated_data"], ad)
        except CheckError as exc:
            errors.append(str(exc))
    if no_otpk < 2:
        errors.append("need at least 2 cases without a one-time prekey, found %d" % no_otpk)
    for required in (0, U32_MAX):
        if required not in ids:
            errors.append("no case uses prekey id %d" % required)
    lengths = {len(name) for name in usernames}
    if not {3, 32} <= lengths:
        errors.append("the usernames must include one of 3 and one of 32 characters")
    return errors


# --- Double Ratchet -----------------------------------------------------------

RATCHET_CASE_FIELDS = ["shared_secret", "associated_data", "bob_spk_secret", "messages"]
RATCHET_MESSAGE_FIELDS = ["from", "ratchet_secret", "plaintext", "header", "ciphertext"]
PARTIES = {"A": "alice", "B": "bob"}

# Each case reuses the SK/AD/SPK of the given X3DH case, so the two files chain.
# Plaintext spec: int = that many pseudo-random bytes, str = UTF-8 text.
RATCHET_PLAN = [
    (0, "AAABBABBBAAB", ["Hi Bob", 0, 1, 159, 160, 161, 300, "ok", 479, 480, 481, 1000]),
    (1, "ABABABABABAB", [0, 0, 1, 1, 159, 160, 161, 319, 320, 321, "h\u00e9llo \U0001F44B", 200]),
    (2, "AABAABBBABBAAB", [1, 159, 0, 160, 161, 250, 2, 3, 640, 0, 1, 159, 160, 161]),
    (3, "ABBBBAAAABBBBA", [161, 160, 159, 1, 0, 400, "third turn", 320, 0, 1, 2, 3, 480, 5]),
]
REQUIRED_LENGTHS = (0, 1, 159, 160, 161)

RATCHET_DESCRIPTION = (
    "Parley v1 Double Ratchet vectors. Each case starts from shared_secret (RK), "
    "associated_data (AD) and bob_spk_secret (Bob's initial ratchet key; taken from the "
    "matching x3dh.json case). Messages are listed in sending order and delivered in that "
    "order. ratchet_secret is the sender's X25519 ratchet secret in force for the message: "
    "Alice's first is her initial ratchet key A1; a party's secret changes exactly at the "
    "DH ratchet step that precedes its first message of a new turn (Bob's first reply "
    "already uses a fresh key, not the SPK). plaintext is before ISO/IEC 7816-4 padding "
    "to a multiple of 160 bytes. header = ratchet public || PN u32 BE || N u32 BE; "
    "ciphertext = XChaCha20-Poly1305-IETF ciphertext||tag with key/nonce = HKDF-SHA256("
    "salt 32x00, message key, 'Parley Message v1', 56) and aad = AD || header. "
    "Generated by Tools/vectors/generate.py.")


def make_plaintext(spec, label):
    return spec.encode("utf-8") if isinstance(spec, str) else stream(label, spec)


def replay_ratchet(shared_secret, ad, bob_spk_secret, script, secret_source,
                   delivered=None, on_sent=None, where="ratchet"):
    """Run a full Alice<->Bob session.

    script: [(sender name, plaintext)]. secret_source(party, index) supplies a
    new ratchet secret when `party` needs one while message `index` is being
    handled (index -1 = Alice's initialisation). delivered: optional
    [(header, ciphertext)] actually handed to the receiver; checking passes the
    committed bytes so the receive path is tested on them, not on our output.
    on_sent(index, record): called after each encryption, before delivery, so
    a checker can report sender-side mismatches even if decryption then fails.

    Returns the produced message records; raises CheckError on any divergence
    between the two parties.
    """
    position = [-1]
    alice = pp.RatchetState.init_alice(shared_secret, ad, pp.x25519_public(bob_spk_secret),
                                       lambda: secret_source("alice", position[0]))
    bob = pp.RatchetState.init_bob(shared_secret, ad, bob_spk_secret,
                                   lambda: secret_source("bob", position[0]))
    states = {"alice": alice, "bob": bob}
    records = []
    for index, (sender_name, plaintext) in enumerate(script):
        position[0] = index
        sender = states[sender_name]
        receiver = states["bob" if sender_name == "alice" else "alice"]
        ratchet_secret = sender.dhs_secret
        header, ciphertext = sender.encrypt(plaintext)
        records.append({"from": sender_name, "ratchet_secret": ratchet_secret,
                        "plaintext": plaintext, "header": header, "ciphertext": ciphertext})
        if on_sent is not None:
            on_sent(index, records[-1])

        in_header, in_ciphertext = delivered[index] if delivered else (header, ciphertext)
        previous_remote = receiver.dhr
        try:
            received = receiver.decrypt(in_header, in_ciphertext)
        except Exception as exc:  # AEAD failure, bad padding, bad header...
            raise CheckError("%s message %d: receiver (%s) failed to decrypt: %s"
                             % (where, index, "bob" if sender_name == "alice" else "alice",
                                exc or type(exc).__name__))
        if received != plaintext:
            raise CheckError("%s message %d: receiver decrypted %s, expected %s"
                             % (where, index, preview(hx(received)), preview(hx(plaintext))))
        if receiver.dhr != previous_remote:
            # A DH ratchet step happened on receipt: the receiver's new
            # receiving chain must be exactly the sender's current sending chain.
            if receiver.receiving_root != sender.sending_root:
                raise CheckError("%s message %d: root keys diverged after DH ratchet (%s vs %s)"
                                 % (where, index, hx(receiver.receiving_root), hx(sender.sending_root)))
            if receiver.receiving_chain_start != sender.sending_chain_start:
                raise CheckError("%s message %d: chain keys diverged after DH ratchet" % (where, index))
    return records


def ratchet_case_json(shared_secret, ad, bob_spk_secret, records):
    return {
        "shared_secret": hx(shared_secret),
        "associated_data": hx(ad),
        "bob_spk_secret": hx(bob_spk_secret),
        "messages": [{
            "from": r["from"],
            "ratchet_secret": hx(r["ratchet_secret"]),
            "plaintext": hx(r["plaintext"]),
            "header": hx(r["header"]),
            "ciphertext": hx(r["ciphertext"]),
        } for r in records],
    }


def build_ratchet(x3dh_doc):
    cases = []
    for c, (x3dh_index, turns, plaintexts) in enumerate(RATCHET_PLAN):
        if len(turns) != len(plaintexts):
            raise ValueError("RATCHET_PLAN case %d: turns and plaintexts differ in length" % c)
        source = x3dh_doc["cases"][x3dh_index]
        shared_secret = bytes.fromhex(source["shared_secret"])
        ad = bytes.fromhex(source["associated_data"])
        spk_secret = bytes.fromhex(source["bob_spk_secret"])
        script = [(PARTIES[t], make_plaintext(p, "ratchet case %d plaintext %d" % (c, i)))
                  for i, (t, p) in enumerate(zip(turns, plaintexts))]

        def secret_source(party, index, c=c):
            return seed("ratchet case %d %s ratchet secret at message %d" % (c, party, index))

        records = replay_ratchet(shared_secret, ad, spk_secret, script, secret_source,
                                 where="ratchet case %d" % c)
        cases.append(ratchet_case_json(shared_secret, ad, spk_secret, records))
    return {"description": RATCHET_DESCRIPTION, "cases": cases}


def check_ratchet_structure(messages, bob_spk_secret, where):
    """The recorded ratchet secrets must follow the spec's turn structure:
    a party's secret changes iff the other party has spoken since its last
    message, and a new secret is never a reuse (of the SPK or an older key)."""
    if not messages or messages[0]["from"] != "alice":
        raise CheckError(where + ": first message must be from alice")
    last_secret = {"alice": None, "bob": bob_spk_secret}
    used = {bob_spk_secret}
    previous_sender = None
    for i, m in enumerate(messages):
        sender = m["from"]
        secret = m["ratchet_secret"]
        new_turn = sender != previous_sender
        if new_turn:
            if secret in used:
                raise CheckError("%s message %d: %s starts a turn with a reused ratchet secret "
                                 "(expected a fresh key after a DH ratchet)" % (where, i, sender))
            used.add(secret)
        elif secret != last_secret[sender]:
            raise CheckError("%s message %d: ratchet secret changed within %s's turn" % (where, i, sender))
        last_secret[sender] = secret
        previous_sender = sender


def check_ratchet(doc):
    errors, cases = [], doc["cases"]
    if len(cases) < 4:
        errors.append("need at least 4 cases, found %d" % len(cases))
    lengths = set()
    for c, case in enumerate(cases):
        where = "case %d" % c
        try:
            require_keys(case, RATCHET_CASE_FIELDS, where)
            shared_secret = unhex(case["shared_secret"], where + " shared_secret", 32)
            ad = unhex(case["associated_data"], where + " associated_data")
            if len(ad) < 64 + 2 * (4 + 3):
                raise CheckError(where + ": associated_data is shorter than two keys and two usernames")
            spk_secret = unhex(case["bob_spk_secret"], where + " bob_spk_secret", 32)
            messages = case["messages"]
            if not isinstance(messages, list) or len(messages) < 10:
                raise CheckError(where + ": need at least 10 messages")
            parsed = []
            for i, m in enumerate(messages):
                mw = "%s message %d" % (where, i)
                require_keys(m, RATCHET_MESSAGE_FIELDS, mw)
                if m["from"] not in ("alice", "bob"):
                    raise CheckError(mw + ': "from" must be "alice" or "bob"')
                parsed.append({
                    "from": m["from"],
                    "ratchet_secret": unhex(m["ratchet_secret"], mw + " ratchet_secret", 32),
                    "plaintext": unhex(m["plaintext"], mw + " plaintext"),
                    "header": unhex(m["header"], mw + " header", pp.HEADER_LEN),
                    "ciphertext": unhex(m["ciphertext"], mw + " ciphertext"),
                })
                lengths.add(len(parsed[-1]["plaintext"]))
            check_ratchet_structure(parsed, spk_secret, where)
            turns = sum(1 for i in range(len(parsed)) if i == 0 or parsed[i]["from"] != parsed[i - 1]["from"])
            if turns < 4:
                errors.append("%s: only %d turns; need several changes of sender" % (where, turns))

            def secret_source(party, index):
                # Replay the recorded keys: the key a party generates during a
                # DH ratchet is the one its next sent message is recorded with.
                for m in parsed[index + 1:]:
                    if m["from"] == party:
                        return m["ratchet_secret"]
                return seed("ratchet check unused key")  # never used to send

            script = [(m["from"], m["plaintext"]) for m in parsed]
            delivered = [(m["header"], m["ciphertext"]) for m in parsed]

            def on_sent(i, r):
                m, mw = parsed[i], "%s message %d" % (where, i)
                compare(errors, mw, "ratchet_secret", hx(m["ratchet_secret"]), r["ratchet_secret"])
                compare(errors, mw, "header", hx(m["header"]), r["header"])
                compare(errors, mw, "ciphertext", hx(m["ciphertext"]), r["ciphertext"])

            replay_ratchet(shared_secret, ad, spk_secret, script, secret_source,
                           delivered=delivered, on_sent=on_sent, where=where)
        except CheckError as exc:
            errors.append(str(exc))
    missing = [n for n in REQUIRED_LENGTHS if n not in lengths]
    if missing:
        errors.append("no plaintext of length %s" % missing)
    if not any(n >= 200 for n in lengths):
        errors.append("no plaintext of a few hundred bytes")
    return errors


# --- Safety number ------------------------------------------------------------

SAFETY_FIELDS = ["alice_username", "alice_identity_public", "bob_username",
                 "bob_identity_public", "safety_number"]
SAFETY_PLAN = [("alice", "bob"), ("carol.d", "x_1-2"), ("bob", "alice"), ("dave", "dan"),
               ("abc", "a.long-username_with.punct-01234"), ("eve_9", "mallory")]
# Parley's username rule: 3-32 characters of [a-z0-9_.-], starting with a letter.
USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{2,31}$")

SAFETY_DESCRIPTION = (
    "Parley v1 safety numbers. Per party: h = SHA-512(0x0000 || Ed25519 identity public || "
    "username UTF-8), then h = SHA-512(h || identity public) 5199 more times (5200 hashes); "
    "the first 30 bytes as six 5-byte big-endian integers, each mod 100000 and zero-padded "
    "to 5 digits -> 30 digits. safety_number = the two 30-digit strings sorted ascending "
    "and concatenated (60 digits, no spaces). Generated by Tools/vectors/generate.py.")


def build_safety():
    cases = []
    for i, (alice_name, bob_name) in enumerate(SAFETY_PLAN):
        alice_pub, _ = pp.identity_keypair(seed("safety case %d alice identity seed" % i))
        bob_pub, _ = pp.identity_keypair(seed("safety case %d bob identity seed" % i))
        cases.append({
            "alice_username": alice_name,
            "alice_identity_public": hx(alice_pub),
            "bob_username": bob_name,
            "bob_identity_public": hx(bob_pub),
            "safety_number": pp.safety_number(alice_pub, alice_name, bob_pub, bob_name),
        })
    return {"description": SAFETY_DESCRIPTION, "cases": cases}


def check_safety(doc):
    errors, cases = [], doc["cases"]
    if len(cases) < 5:
        errors.append("need at least 5 cases, found %d" % len(cases))
    orders = set()
    for i, case in enumerate(cases):
        where = "case %d" % i
        try:
            require_keys(case, SAFETY_FIELDS, where)
            halves = []
            for party in ("alice", "bob"):
                name = case[party + "_username"]
                if not isinstance(name, str) or not USERNAME_RE.match(name):
                    raise CheckError("%s: %s_username must be a Parley username (3-32 of [a-z0-9._-], starting with a letter)" % (where, party))
                public = unhex(case[party + "_identity_public"], "%s %s_identity_public" % (where, party), 32)
                try:
                    pp.identity_dh_public(public)  # rejects bytes that are not an Ed25519 point
                except Exception:
                    raise CheckError("%s: %s_identity_public is not a valid Ed25519 key" % (where, party))
                halves.append(pp.fingerprint_digits(public, name))
            orders.add(halves[0] < halves[1])
            expected = "".join(sorted(halves))
            if case["safety_number"] != expected:
                errors.append("%s: safety_number mismatch\n    file:     %s\n    computed: %s"
                              % (where, case["safety_number"], expected))
        except CheckError as exc:
            errors.append(str(exc))
    if orders != {True, False}:
        errors.append("cases must exercise the sort both ways (alice's half first and bob's half first)")
    return errors


# --- PQXDH ----------------------------------------------------------------------

PQXDH_INPUTS = ["alice_identity_seed", "bob_identity_seed", "alice_username", "bob_username",
                "bob_spk_id", "bob_spk_secret", "bob_otpk_id", "bob_otpk_secret",
                "alice_ephemeral_secret", "bob_kem_id", "bob_kem_last_resort", "bob_kem_seed",
                "kem_encapsulation_randomness", "alice_ratchet_secret", "first_plaintext"]
PQXDH_OUTPUTS = ["bob_kem_public", "kem_signature", "kem_ciphertext", "kem_shared_secret",
                 "shared_secret", "associated_data", "first_message"]
# (SPK id, OTPK id or None, ML-KEM prekey id, last resort?): with and without the one-time
# X25519 prekey, with a one-time and with the last-resort ML-KEM prekey, and extreme ids.
PQXDH_PLAN = [(1, 100, 200, False), (2, None, 201, False), (3, 101, 1, True), (4, None, 2, True),
              (U32_MAX, U32_MAX - 1, U32_MAX - 2, False)]
PQXDH_NAMES = [("alice", "bob"), ("carol.d", "x_1-2"), ("bob", "alice"), ("dave", "dan"),
               ("abc", "a.long-username_with.punct-01234")]

PQXDH_DESCRIPTION = (
    "Parley v1 PQXDH (PROTOCOL.md, PQXDH). Inputs as in x3dh.json, plus bob_kem_seed (the 64-byte "
    "ML-KEM-1024 seed d || z, FIPS 203 KeyGen_internal), bob_kem_id, bob_kem_last_resort, "
    "kem_encapsulation_randomness (the 32-byte m of FIPS 203 Encaps_internal), "
    "alice_ratchet_secret (her first ratchet key) and first_plaintext. Outputs: bob_kem_public "
    "(1568 bytes); kem_signature = Ed25519(bob identity, 'Parley PQPK v1' || id u32 BE || 0x08 || "
    "public); kem_ciphertext and kem_shared_secret = Encaps_internal(bob_kem_public, m); "
    "shared_secret = HKDF-SHA256(salt 32x00, 32x0xFF || DH1 || DH2 || DH3 [|| DH4] || SS, "
    "'Parley PQXDH X25519 SHA-256 ML-KEM-1024 v1', 32); associated_data as in x3dh.json; "
    "first_message = the encoded envelope (version 1, kind 3: IK || EK || SPK id || has OTPK || "
    "OTPK id || ML-KEM prekey id || ML-KEM ciphertext || header || u32 BE length || ciphertext) of "
    "Alice's first ratchet message carrying first_plaintext (as in ratchet.json). Generated by "
    "Tools/vectors/generate.py with kyber-py (pure-Python FIPS 203) and PyNaCl.")


def pqxdh_outputs(inputs):
    """Every output of one case from its inputs, Alice's side; asserts Bob's side agrees and
    that Bob reads the first message."""
    alice_pub, alice_sec = pp.identity_keypair(inputs["alice_identity_seed"])
    bob_pub, bob_sec = pp.identity_keypair(inputs["bob_identity_seed"])
    spk_public = pp.x25519_public(inputs["bob_spk_secret"])
    otpk_secret = inputs["bob_otpk_secret"]
    otpk_public = pp.x25519_public(otpk_secret) if otpk_secret is not None else None
    kem_public, kem_decaps = pp.kem_keypair(inputs["bob_kem_seed"])
    kem_signature = pp.sign_kem_prekey(bob_sec, inputs["bob_kem_id"], kem_public)
    if not pp.verify_kem_prekey(bob_pub, inputs["bob_kem_id"], kem_public, kem_signature):
        raise CheckError("ML-KEM prekey signature does not verify")
    if pp.verify_kem_prekey(bob_pub, inputs["bob_kem_id"] ^ 1, kem_public, kem_signature):
        raise CheckError("ML-KEM prekey signature verifies under another id")
    kem_shared, kem_ciphertext = pp.kem_encapsulate(kem_public, inputs["kem_encapsulation_randomness"])
    ephemeral_public = pp.x25519_public(inputs["alice_ephemeral_secret"])
    sk = pp.pqxdh_initiator(alice_sec, inputs["alice_ephemeral_secret"], bob_pub, spk_public, otpk_public, kem_shared)
    sk_bob = pp.pqxdh_responder(bob_sec, inputs["bob_spk_secret"], alice_pub, ephemeral_public, otpk_secret,
                                kem_decaps, kem_ciphertext)
    if sk != sk_bob:
        raise CheckError("initiator and responder derived different shared secrets")
    ad = pp.associated_data(alice_pub, bob_pub, inputs["alice_username"], inputs["bob_username"])
    alice = pp.RatchetState.init_alice(sk, ad, spk_public, lambda: inputs["alice_ratchet_secret"])
    header, ciphertext = alice.encrypt(inputs["first_plaintext"])
    first_message = pp.encode_pq_prekey_envelope(
        alice_pub, ephemeral_public, inputs["bob_spk_id"], inputs["bob_otpk_id"], inputs["bob_kem_id"],
        kem_ciphertext, header, ciphertext)
    bob = pp.RatchetState.init_bob(sk_bob, ad, inputs["bob_spk_secret"], lambda: seed("pqxdh bob unused ratchet key"))
    if bob.decrypt(header, ciphertext) != inputs["first_plaintext"]:
        raise CheckError("Bob did not read the first message")
    return {"bob_kem_public": kem_public, "kem_signature": kem_signature, "kem_ciphertext": kem_ciphertext,
            "kem_shared_secret": kem_shared, "shared_secret": sk, "associated_data": ad, "first_message": first_message}


def build_pqxdh():
    cases = []
    for i, (spk_id, otpk_id, kem_id, last_resort) in enumerate(PQXDH_PLAN):
        label = "pqxdh case %d " % i
        inputs = {
            "alice_identity_seed": seed(label + "alice identity seed"),
            "bob_identity_seed": seed(label + "bob identity seed"),
            "alice_username": PQXDH_NAMES[i][0], "bob_username": PQXDH_NAMES[i][1],
            "bob_spk_id": spk_id, "bob_spk_secret": seed(label + "bob spk secret"),
            "bob_otpk_id": otpk_id,
            "bob_otpk_secret": seed(label + "bob otpk secret") if otpk_id is not None else None,
            "alice_ephemeral_secret": seed(label + "alice ephemeral secret"),
            "bob_kem_id": kem_id, "bob_kem_last_resort": last_resort,
            "bob_kem_seed": stream(label + "bob kem seed", 64),
            "kem_encapsulation_randomness": seed(label + "kem encapsulation randomness"),
            "alice_ratchet_secret": seed(label + "alice ratchet secret"),
            "first_plaintext": ("hello %s, post-quantum %d" % (PQXDH_NAMES[i][1], i)).encode("utf-8"),
        }
        outputs = pqxdh_outputs(inputs)
        case = {}
        for key in PQXDH_INPUTS:
            value = inputs[key]
            case[key] = hx(value) if isinstance(value, bytes) else value
        for key in PQXDH_OUTPUTS:
            case[key] = hx(outputs[key])
        cases.append(case)
    return {"description": PQXDH_DESCRIPTION, "cases": cases}


def check_pqxdh(doc):
    errors, cases = [], doc["cases"]
    if len(cases) < 4:
        errors.append("need at least 4 cases, found %d" % len(cases))
    shapes = set()
    for i, case in enumerate(cases):
        where = "case %d" % i
        try:
            require_keys(case, PQXDH_INPUTS + PQXDH_OUTPUTS, where)
            if (case["bob_otpk_id"] is None) != (case["bob_otpk_secret"] is None):
                raise CheckError(where + ": bob_otpk_id and bob_otpk_secret must both be null or both set")
            if not isinstance(case["bob_kem_last_resort"], bool):
                raise CheckError(where + ": bob_kem_last_resort must be true or false")
            for party in ("alice", "bob"):
                if not isinstance(case[party + "_username"], str) or not USERNAME_RE.match(case[party + "_username"]):
                    raise CheckError("%s: %s_username must be a Parley username" % (where, party))
            inputs = {
                "alice_identity_seed": unhex(case["alice_identity_seed"], where + " alice_identity_seed", 32),
                "bob_identity_seed": unhex(case["bob_identity_seed"], where + " bob_identity_seed", 32),
                "alice_username": case["alice_username"], "bob_username": case["bob_username"],
                "bob_spk_id": require_u32(case["bob_spk_id"], where + " bob_spk_id"),
                "bob_spk_secret": unhex(case["bob_spk_secret"], where + " bob_spk_secret", 32),
                "bob_otpk_id": None if case["bob_otpk_id"] is None else require_u32(case["bob_otpk_id"], where + " bob_otpk_id"),
                "bob_otpk_secret": None if case["bob_otpk_secret"] is None else unhex(case["bob_otpk_secret"], where + " bob_otpk_secret", 32),
                "alice_ephemeral_secret": unhex(case["alice_ephemeral_secret"], where + " alice_ephemeral_secret", 32),
                "bob_kem_id": require_u32(case["bob_kem_id"], where + " bob_kem_id"),
                "bob_kem_last_resort": case["bob_kem_last_resort"],
                "bob_kem_seed": unhex(case["bob_kem_seed"], where + " bob_kem_seed", 64),
                "kem_encapsulation_randomness": unhex(case["kem_encapsulation_randomness"], where + " kem_encapsulation_randomness", 32),
                "alice_ratchet_secret": unhex(case["alice_ratchet_secret"], where + " alice_ratchet_secret", 32),
                "first_plaintext": unhex(case["first_plaintext"], where + " first_plaintext"),
            }
            shapes.add((inputs["bob_otpk_id"] is None, inputs["bob_kem_last_resort"]))
            outputs = pqxdh_outputs(inputs)
            for key in PQXDH_OUTPUTS:
                compare(errors, where, key, case[key], outputs[key])
        except (CheckError, RuntimeError) as exc:
            errors.append(str(exc))
    if len(shapes) < 4:
        errors.append("cases must cover with and without a one-time X25519 prekey, each with a one-time and the last-resort ML-KEM prekey")
    return errors


# --- CLI ----------------------------------------------------------------------

FILES = [("x3dh", "x3dh.json", check_x3dh),
         ("ratchet", "ratchet.json", check_ratchet),
         ("safety-number", "safety-number.json", check_safety),
         ("pqxdh", "pqxdh.json", check_pqxdh)]


def write(directory):
    os.makedirs(directory, exist_ok=True)
    x3dh_doc = build_x3dh()
    docs = {"x3dh": x3dh_doc, "ratchet": build_ratchet(x3dh_doc), "safety-number": build_safety(),
            "pqxdh": build_pqxdh()}
    for name, filename, _ in FILES:
        path = os.path.join(directory, filename)
        with open(path, "w", encoding="ascii", newline="\n") as fh:
            fh.write(dump(docs[name]))
        print("wrote %s (%d cases)" % (path, len(docs[name]["cases"])))


def check(directory):
    ok = True
    try:
        print(check_primitives())
    except AssertionError as exc:
        print("primitives: FAILED known-answer test: %s" % exc)
        ok = False
    for name, filename, checker in FILES:
        path = os.path.join(directory, filename)
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
            require_keys(doc, ["description", "cases"], filename + " top level")
            if not isinstance(doc["description"], str) or not doc["description"].strip():
                raise CheckError(filename + ": description must be a non-empty string")
            if not isinstance(doc["cases"], list):
                raise CheckError(filename + ": cases must be a list")
            errors = checker(doc)
        except (OSError, ValueError, CheckError) as exc:
            errors, doc = [str(exc)], None
        if errors:
            ok = False
            print("%s: FAILED (%s)" % (name, path))
            for err in errors:
                print("  - " + err)
        else:
            print("%s: %d cases ok" % (name, len(doc["cases"])))
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the vector files")
    mode.add_argument("--check", action="store_true", help="recompute and verify the vector files")
    parser.add_argument("--dir", default=DEFAULT_DIR, help="vectors folder (default: %(default)s)")
    args = parser.parse_args()
    if args.write:
        write(args.dir)
        return 0
    if check(args.dir):
        print("all vectors ok")
        return 0
    print("vector check FAILED", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
