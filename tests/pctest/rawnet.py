"""Raw frames for network tests: a neighbour on a link sends a TCP SYN of its own making
(any destination address, here 127.0.0.1) to a chosen MAC address and says whether a
SYN-ACK came back. Run inside the neighbour's namespace::

    ip netns exec NS python3 rawnet.py IFACE DST_MAC SRC_IP DST_IP DST_PORT

Prints ``answered`` or ``silent`` (after 2 s). Needs CAP_NET_RAW (AF_PACKET).
"""

from __future__ import annotations

import random
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def syn_frame(src_mac: bytes, dst_mac: bytes, src_ip: str, dst_ip: str, sport: int,
              dport: int, seq: int) -> bytes:
    sip, dip = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = sip + dip + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randint(1, 65535),
                     0x4000, 64, socket.IPPROTO_TCP, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ip + tcp


def is_synack(frame: bytes, sport: int, dport: int) -> bool:
    if len(frame) < 54 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return False
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] != socket.IPPROTO_TCP:
        return False
    tcp = frame[14 + ihl:]
    src, dst = struct.unpack("!HH", tcp[:4])
    return src == dport and dst == sport and tcp[13] & 0x12 == 0x12


def probe(iface: str, dst_mac: str, src_ip: str, dst_ip: str, dport: int,
          wait: float = 2.0) -> bool:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    src_mac = s.getsockname()[4]
    sport = random.randint(20000, 60000)
    frame = syn_frame(src_mac, bytes.fromhex(dst_mac.replace(":", "")), src_ip, dst_ip,
                      sport, dport, random.randint(0, 2**31))
    deadline = time.monotonic() + wait
    for _ in range(3):
        s.send(frame)
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = s.recv(4096)
        except TimeoutError:
            break
        if is_synack(data, sport, dport):
            return True
    return False


if __name__ == "__main__":
    iface, mac, sip, dip, port = sys.argv[1:6]
    print("answered" if probe(iface, mac, sip, dip, int(port)) else "silent")
