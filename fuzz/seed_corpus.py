#!/usr/bin/env python3
"""Builds the seed corpora in fuzz/corpus/<target>/ (git-ignored) at run time.

- sip_parse: the RFC 4475 torture messages from /work/shared/vectors/sip_torture/ and the SIP
  datagrams of the IMSDroid trace in /work/shared/vectors/pcaps/ (those not SigComp-compressed).
- sip_header_values: every header value of those messages, prefixed with the selector byte of
  the typed parser that reads it (see fuzz_targets/sip_header_values.rs).
- diameter_decode: a CER, a Cx MAR and a Cx SAA built here from RFC 6733 / TS 29.229 layouts.
- stun_decode: a Binding request with FINGERPRINT and a Binding success response (RFC 5389).

The vectors are read from the shared directory, never copied into the repository.
"""

import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.environ.get("IMS_VECTORS", os.path.join(HERE, "..", "..", "shared", "vectors"))
CORPUS = os.path.join(HERE, "corpus")

# Selector bytes of sip_header_values.rs, by lower-case header name (long and compact forms).
SELECTORS = {
    "via": 0, "v": 0,
    "from": 1, "f": 1, "to": 1, "t": 1, "route": 1, "record-route": 1, "path": 1,
    "service-route": 1, "p-asserted-identity": 1, "p-preferred-identity": 1,
    "p-associated-uri": 1,
    "contact": 2, "m": 2,
    "cseq": 3,
    "authorization": 4, "proxy-authorization": 4,
    "www-authenticate": 5, "proxy-authenticate": 5,
    "security-client": 6, "security-server": 6, "security-verify": 6,
    "content-type": 8, "c": 8,
    "accept": 9,
    "p-charging-vector": 10,
    "p-visited-network-id": 11,
    "event": 12, "o": 12,
    "subscription-state": 13,
    "date": 14,
    "supported": 15, "k": 15, "require": 15, "proxy-require": 15, "unsupported": 15,
    "allow": 16,
    "expires": 17,
    "max-forwards": 18,
    "call-id": 19, "i": 19,
    "content-length": 22, "l": 22,
    "min-expires": 25,
}
URI_SELECTOR = 7
LIST_SELECTOR = 24


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def header_values(msg):
    """(name, unfolded value) of each header field, and the Request-URI if any."""
    head = msg.split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    lines = head.split(b"\n")
    out = []
    parts = lines[0].split(b" ")
    if len(parts) == 3 and not parts[0].startswith(b"SIP/"):
        out.append((None, parts[1]))
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and out:
            name, value = out[-1]
            out[-1] = (name, value + b" " + line.strip())
        elif b":" in line:
            name, value = line.split(b":", 1)
            out.append((name.strip().lower(), value.strip()))
    return out


def pcapng_udp_payloads(path):
    """UDP payloads of the Enhanced Packet Blocks of an Ethernet or Linux SLL pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    pos, endian, linktype = 0, "<", 1
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if btype == 0x0A0D0D0A:
            endian = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12:
            return
        if btype == 1:
            linktype = struct.unpack_from(endian + "H", data, pos + 8)[0]
        if btype == 6:
            caplen = struct.unpack_from(endian + "I", data, pos + 20)[0]
            frame = data[pos + 28:pos + 28 + caplen]
            payload = udp_payload(frame, linktype)
            if payload is not None:
                yield payload
        pos += blen


def udp_payload(frame, linktype):
    # Ethernet: EtherType at 12, IP at 14; Linux cooked capture (113): protocol at 14, IP at 16.
    at = 14 if linktype == 113 else 12
    if len(frame) < at + 2:
        return None
    ethertype = struct.unpack_from("!H", frame, at)[0]
    ip = frame[at + 2:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 17:
        ihl = (ip[0] & 0x0F) * 4
        return ip[ihl + 8:]
    if ethertype == 0x86DD and len(ip) >= 40 and ip[6] == 17:
        return ip[48:]
    return None


def avp(code, payload, vendor=None, mandatory=True):
    flags = (0x40 if mandatory else 0) | (0x80 if vendor is not None else 0)
    head_len = 12 if vendor is not None else 8
    length = head_len + len(payload)
    out = struct.pack("!IB", code, flags) + length.to_bytes(3, "big")
    if vendor is not None:
        out += struct.pack("!I", vendor)
    out += payload
    return out + b"\0" * (-len(out) % 4)


def diameter(flags, command, app, avps):
    body = b"".join(avps)
    length = 20 + len(body)
    return (bytes([1]) + length.to_bytes(3, "big") + bytes([flags]) + command.to_bytes(3, "big")
            + struct.pack("!III", app, 0x1234, 0x5678) + body)


def u32(v):
    return struct.pack("!I", v)


def diameter_seeds():
    cx, tgpp = 16777216, 10415
    origin = [avp(264, b"scscf.ims.example.net"), avp(296, b"ims.example.net")]
    cer = diameter(0x80, 257, 0, origin + [
        avp(257, b"\x00\x01\xc0\x00\x02\x01"), avp(266, u32(0)), avp(269, b"ims-core"),
        avp(260, avp(266, u32(tgpp)) + avp(258, u32(cx))),
    ])
    mar = diameter(0xC0, 303, cx, [avp(263, b"scscf.ims.example.net;1;2")] + origin + [
        avp(277, u32(1)), avp(283, b"ims.example.net"), avp(1, b"user@ims.example.net"),
        avp(601, b"sip:user@ims.example.net", tgpp),
        avp(612, avp(608, b"Digest-AKAv1-MD5", tgpp), tgpp),
        avp(607, u32(1), tgpp), avp(602, b"sip:scscf.ims.example.net", tgpp),
    ])
    saa = diameter(0x40, 301, cx, [avp(263, b"scscf.ims.example.net;1;2")] + origin + [
        avp(297, avp(266, u32(tgpp)) + avp(298, u32(2001))),
        avp(606, b"<IMSSubscription/>", tgpp),
    ])
    return {"cer": cer, "mar": mar, "saa": saa}


def stun(msg_type, txid, attrs, fingerprint=True):
    body = b"".join(struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4) for t, v in attrs)
    length = len(body) + (8 if fingerprint else 0)
    out = struct.pack("!HHI", msg_type, length, 0x2112A442) + txid + body
    if fingerprint:
        crc = (zlib.crc32(out) ^ 0x5354554E) & 0xFFFFFFFF
        out += struct.pack("!HHI", 0x8028, 4, crc)
    return out


def stun_seeds():
    txid = bytes(range(1, 13))
    port = 5060 ^ 0x2112
    addr = bytes(a ^ b for a, b in zip(bytes([192, 0, 2, 7]), struct.pack("!I", 0x2112A442)))
    xma = struct.pack("!BBH", 0, 1, port) + addr
    return {
        "binding-request": stun(0x0001, txid, [(0x8022, b"ims-ue")]),
        "binding-success": stun(0x0101, txid, [(0x0020, xma)]),
        "binding-error": stun(0x0111, txid, [(0x0009, b"\0\0\x04\x20Unknown Attribute"),
                                             (0x000A, b"\x00\x2a\x00\x2b")], fingerprint=False),
    }


def main():
    messages = {}
    torture = os.path.join(VECTORS, "sip_torture")
    for root, _dirs, files in os.walk(torture):
        for name in sorted(files):
            if name.endswith(".dat"):
                with open(os.path.join(root, name), "rb") as f:
                    messages[os.path.basename(root) + "-" + name] = f.read()
    pcaps = os.path.join(VECTORS, "pcaps")
    for name in sorted(os.listdir(pcaps)) if os.path.isdir(pcaps) else []:
        for n, payload in enumerate(pcapng_udp_payloads(os.path.join(pcaps, name))):
            if payload[:3] in (b"SIP", b"REG", b"INV", b"ACK", b"BYE", b"OPT", b"SUB", b"NOT",
                               b"PUB", b"MES", b"CAN", b"PRA", b"UPD", b"INF", b"REF"):
                messages[f"{name}-{n}"] = payload
    for name, msg in messages.items():
        write("sip_parse", name, msg)
        for i, (header, value) in enumerate(header_values(msg)):
            if header is None:
                write("sip_header_values", f"{name}-{i}", bytes([URI_SELECTOR]) + value)
                continue
            sel = SELECTORS.get(header.decode("latin-1"))
            if sel is not None:
                write("sip_header_values", f"{name}-{i}", bytes([sel]) + value)
                if sel in (1, 2, 6, 11):
                    write("sip_header_values", f"{name}-{i}-list", bytes([LIST_SELECTOR]) + value)
    for name, data in diameter_seeds().items():
        write("diameter_decode", name, data)
    for name, data in stun_seeds().items():
        write("stun_decode", name, data)
    for target in sorted(os.listdir(CORPUS)):
        print(target, len(os.listdir(os.path.join(CORPUS, target))), file=sys.stderr)


if __name__ == "__main__":
    main()
