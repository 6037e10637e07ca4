#!/usr/bin/env python3
"""Send odo-phone/1 lines to the agent's phone socket; print each reply.
Usage: phone_client.py SOCKET LINE...   (exit 1 when a reply does not come)"""
import socket
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
f = s.makefile("rb")
for line in sys.argv[2:]:
    s.sendall(line.encode() + b"\n")
    reply = f.readline()
    if not reply:
        print("no reply to %r" % line)
        sys.exit(1)
    print(reply.decode().rstrip("\n"))
s.close()
