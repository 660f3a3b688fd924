#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes fuzz-bus's seeds: call sequences in the target's input encoding
# (fuzz-bus.c): a uid byte, then per call an op byte, a "wrong signature"
# byte (< 24: random arguments), a "pipeline" byte (< 64: do not wait for
# the reply) and the arguments. Usage: make-bus-seeds.py OUTDIR
import os, sys

OK, WAIT = 0xff, 0xff
METHODS = ["ListPhysicalFunctions", "ListVirtualFunctions", "ListLeases", "ListTenants", "AcquireVF",
           "ReleaseVF", "RevokeLease", "CreateTenant", "DeleteTenant", "RotateToken", "GetTenantToken",
           "SetNumVFs", "Get", "GetAll", "Introspect", "IntrospectRoot", "Hello", "Ping", "NoSuchMethod",
           "WrongPath", "FAULT", "SLEEP", "RESTART"]
WORDS = ["acme", "beta", "fuzz", "gamma", "", ".x", "-x", "a_b.c-d", "a" * 64, "a" * 65,
         "0000:01:00.0", "01:00.0", "0000:02:00.0", "0000:03:00.0", "0000:04:00.0",
         "0000:01:00.1", "0000:01:00.4", "0000:02:10.1", "0000:03:00.2", "0000:ff:1f.7", "0000:01:20.0"]
KEYS = ["PhysicalFunction", "NumaNode", "Uids", "Gids", "Quota", "Force", "", "Unknown", "physicalfunction", "API"]

def op(name, pipeline=False):
    return bytes([METHODS.index(name), OK, 0 if pipeline else WAIT])

def word(w):            # a string from the target's word list
    return bytes([0, WORDS.index(w)])

def remembered(i=0):    # a string a reply handed back (lease id) or a name sent before
    return bytes([1, i])

def text(s):            # a string from the input
    b = s.encode()
    return bytes([2, len(b)]) + b

def options(*entries):  # entries: bytes of key + variant
    return bytes([len(entries)]) + b"".join(entries)

def key(k):
    return bytes([KEYS.index(k)])

def v_s(w): return bytes([0]) + word(w)
def v_i(n): return bytes([1]) + n.to_bytes(4, "big", signed=True)
def v_s_text(t): return bytes([0]) + text(t)
def v_u(n): return bytes([2]) + n.to_bytes(4, "big")
def v_b(b): return bytes([3, 1 if b else 0])
def v_au(*ids): return bytes([4, len(ids)]) + bytes(ids)

ROOT, NOBODY, USER = b"\x00", b"\x03", b"\x04"
lists = op("ListPhysicalFunctions") + op("ListVirtualFunctions") + op("ListLeases") + op("ListTenants")
seeds = {
    "list-all": ROOT + lists + op("Get") + b"\x01\x00" + op("GetAll") + text("org.vfbroker.Broker1")
                + op("Introspect") + op("Hello") + op("Ping"),
    "acquire-release": ROOT + op("AcquireVF") + word("acme") + options() + lists
                       + op("ReleaseVF") + remembered(0) + op("ListLeases"),
    "acquire-options": ROOT + op("AcquireVF") + word("beta") + options(key("PhysicalFunction") + v_s("0000:03:00.0"),
                                                                      key("NumaNode") + v_i(1))
                       + op("AcquireVF") + word("acme") + options(key("NumaNode") + v_i(-1))
                       + op("RevokeLease") + remembered(0) + op("ListVirtualFunctions"),
    "acquire-quota": ROOT + op("AcquireVF") + word("acme") + options() + op("AcquireVF") + word("acme") + options()
                     + op("AcquireVF") + word("acme") + options() + op("ListTenants"),
    "tenant-life": ROOT + op("CreateTenant") + word("gamma") + options(key("Uids") + v_au(0, 7), key("Gids") + v_au(100),
                                                                         key("Quota") + v_u(3))
                   + op("ListTenants") + op("RotateToken") + word("gamma") + op("GetTenantToken") + word("acme")
                   + op("AcquireVF") + word("gamma") + options()
                   + op("DeleteTenant") + word("gamma") + options()
                   + op("DeleteTenant") + word("gamma") + options(key("Force") + v_b(True)) + op("ListLeases"),
    "set-num-vfs": ROOT + op("SetNumVFs") + word("0000:01:00.0") + b"\x02" + op("ListVirtualFunctions")
                   + op("SetNumVFs") + word("0000:03:00.0") + b"\x00" + op("SetNumVFs") + word("0000:01:00.0") + b"\x04"
                   + op("ListPhysicalFunctions"),
    "fault-acquire": ROOT + bytes([METHODS.index("FAULT"), 2, 0, 0]) + op("AcquireVF") + word("acme") + options()
                     + op("ListVirtualFunctions"),
    "pipelined": ROOT + op("AcquireVF", True) + word("acme") + options() + op("CreateTenant", True) + word("gamma")
                 + options() + op("SetNumVFs", True) + word("0000:01:00.0") + b"\x01" + op("ListLeases", True)
                 + bytes([METHODS.index("SLEEP"), 250]) + op("ListVirtualFunctions"),
    "nobody": NOBODY + op("AcquireVF") + word("acme") + options() + op("CreateTenant") + word("gamma") + options()
              + op("ListTenants"),
    "user-pipelined": USER + b"".join(op("RotateToken", True) + word("beta") for _ in range(6)) + op("ListTenants"),
    "wrong-signature": ROOT + bytes([METHODS.index("AcquireVF"), 0, WAIT, 3, 1, 0, 0, 0, 7, 0, 0xff, 0])
                       + bytes([METHODS.index("SetNumVFs"), 0, WAIT, 2, 0, 0, 0, 0, 0, 0, 0]) + lists,
    "restart-with-lease": ROOT + op("AcquireVF") + word("acme") + options() + op("AcquireVF") + word("beta")
                          + options(key("PhysicalFunction") + v_s("0000:03:00.0"))
                          + bytes([METHODS.index("RESTART")]) + ROOT + op("ListLeases") + op("ReleaseVF") + remembered(0)
                          + op("RevokeLease") + remembered(1) + op("ListVirtualFunctions"),
    "tenant-limit": ROOT + b"".join(op("CreateTenant") + text("t%d" % i) + options() for i in range(5))
                    + op("ListTenants"),
    "too-many-options": ROOT + op("AcquireVF") + word("acme") + options(*[key("NumaNode") + v_i(0)] * 17)
                        + op("CreateTenant") + word("gamma") + options(*[key("Quota") + v_u(1)] * 17),
    "acquire-iommufd": ROOT + op("AcquireVF") + word("acme") + options(key("API") + v_s_text("iommufd"))
                       + op("AcquireVF") + word("beta") + options(key("API") + v_s_text("group"),
                                                                  key("PhysicalFunction") + v_s("0000:03:00.0"))
                       + op("AcquireVF") + word("acme") + options(key("API") + v_s_text("vfio-user"))
                       + op("AcquireVF") + word("acme") + options(key("API") + v_u(1)) + op("ListPhysicalFunctions"),
    "token-not-dedicated": ROOT + op("GetTenantToken") + word("beta") + op("GetTenantToken") + word("acme"),
    "set-num-vfs-busy": ROOT + op("AcquireVF") + word("beta") + options(key("PhysicalFunction") + v_s("0000:01:00.0"))
                        + op("SetNumVFs") + word("0000:01:00.0") + b"\x02" + op("ReleaseVF") + remembered(0)
                        + op("SetNumVFs") + word("0000:01:00.0") + b"\x02",
    "log-injection": ROOT + op("CreateTenant") + text("x\nFORGED-AUDIT Tenant 'root' created by uid 0.") + options()
                     + op("ReleaseVF") + text("%s%s%n") + op("AcquireVF") + word("acme")
                     + options(key("PhysicalFunction") + bytes([0, 2, 5]) + b"\n\x1b[2J"),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
