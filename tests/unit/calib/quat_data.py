#!/usr/bin/env python3
"""calib_quat_data: the known answer of quat-orient (github.com/jimregiandrew/
quat-orient, MIT; not in the tree): two drives with an Android phone flat on a
Corolla's dash, turned 180 degrees about the vertical between them. The
learnt mounts must differ by 180 +- 10 degrees in yaw, at the moment each
becomes ready and at the end of the drive, with roll and pitch within 5
degrees; each ready within 300 s of driving. Also when the agent keeps its
state file across the two drives (restart: the re-mount must be found and
learnt again) and when both drives run in one process with the parked hour
between them (no restart).

Usage: quat_data.py ODO_AGENT CONVERTER QUAT_ORIENT_DIR
Runs the project's converter and the real odo-agent --replay; reads the
transitions from its log and the final mount from --print-mount.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "e2e", "agent"))
import emitlib  # noqa: E402

agent, converter, src = sys.argv[1:4]
tmp = tempfile.mkdtemp(prefix="odo-quat-")
fails = []
READY_RE = re.compile(r"-> ready after (\d+) s of driving \(at (\d+) s\): roll (\S+) pitch (\S+) yaw (\S+) deg")
REMOUNT_RE = re.compile(r"ready -> re-learning at (\d+) s of driving: re-mounted \((.*)\)")
MOUNT_RE = re.compile(r"^mount\s+roll (\S+)\s+pitch (\S+)\s+yaw (\S+) deg", re.M)


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)


def convert(drive):
    out = os.path.join(tmp, drive)
    subprocess.run([converter, "quat-orient", src, drive, out], check=True)
    return out


def replay(rec, name, state):
    d = os.path.join(tmp, "run-" + name)
    os.makedirs(d, exist_ok=True)
    os.makedirs(state, exist_ok=True)
    conf = os.path.join(d, "agent.conf")
    with open(conf, "w") as f:
        f.write("[agent]\ndevice_id = quat-%s\nstate_dir = %s\nlog_level = info\n[store]\npath = %s/outbox.db\n"
                % (name, state, d))
    p = subprocess.run([agent, "-c", conf, "--replay", rec, "--with-state", "--no-uplink", "--emit",
                        os.path.join(d, "emit.txt")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("replay %s failed (%d): %s" % (name, p.returncode, p.stderr[-2000:]))
    log = p.stderr
    m = subprocess.run([agent, "-c", conf, "--print-mount"], capture_output=True, text=True)
    print("--- %s\n%s%s" % (name, "".join(l + "\n" for l in log.splitlines() if "calib" in l), m.stdout))
    end = MOUNT_RE.search(m.stdout)
    readies = [tuple(float(x) for x in r.groups()) for r in READY_RE.finditer(log)]
    remounts = [(float(r.group(1)), r.group(2)) for r in REMOUNT_RE.finditer(log)]
    return readies, remounts, tuple(float(x) for x in end.groups()) if end else None


def yaw_delta(a, b):
    return abs(((a - b) % 360.0) - 180.0)  # distance from a 180 degree difference


def angle_diff(a, b):
    return abs((a - b + 180.0) % 360.0 - 180.0)


def pair(m1, m2, when):
    """m = (roll, pitch, yaw)"""
    dy = yaw_delta(m1[2], m2[2])
    print("%s: yaw %.1f and %.1f, difference %.1f deg" % (when, m1[2], m2[2], (m1[2] - m2[2]) % 360.0))
    check(dy <= 10, "%s: the yaws differ by 180 +- 10 deg (off by %.1f)" % (when, dy))
    check(angle_diff(m1[0], m2[0]) <= 5 and abs(m1[1] - m2[1]) <= 5,
          "%s: roll %.1f/%.1f and pitch %.1f/%.1f within 5 deg" % (when, m1[0], m2[0], m1[1], m2[1]))


r21, r22 = convert("2020-10-15-21"), convert("2020-10-15-22")

# (a) separately, each with a fresh state
rd21, rm21, end21 = replay(r21, "21", os.path.join(tmp, "s21"))
rd22, rm22, end22 = replay(r22, "22", os.path.join(tmp, "s22"))
check(len(rd21) == 1 and rd21[0][0] <= 300, "drive 21 ready within 300 s of driving (%s)" % [r[0] for r in rd21])
check(len(rd22) == 1 and rd22[0][0] <= 300, "drive 22 ready within 300 s of driving (%s)" % [r[0] for r in rd22])
check(not rm21 and not rm22, "no re-mount within a drive")
if rd21 and rd22:
    pair(rd21[0][2:], rd22[0][2:], "(a) at ready")
check(end21 is not None and end22 is not None, "--print-mount prints both mounts")
if end21 and end22:
    pair(end21, end22, "(a) at the end")

# (b) drive 21, the agent stops, drive 22 with the same state file
rdb21, _, endb21 = replay(r21, "b21", os.path.join(tmp, "sb"))
rdb22, rmb22, endb22 = replay(r22, "b22", os.path.join(tmp, "sb"))
check(len(rmb22) == 1, "(b) the re-mount is found after the restart (%s)" % rmb22)
if rmb22:
    check(rmb22[0][0] <= 180, "(b) within 180 s of driving (%.0f s)" % rmb22[0][0])
check(len(rdb22) == 1 and rdb22[0][0] <= 300, "(b) ready again within 300 s (%s)" % [r[0] for r in rdb22])
if endb21 and endb22:
    pair(endb21, endb22, "(b) at the end")

# (c) both drives in one process: the parked hour between them, no restart
rc = os.path.join(tmp, "both")
os.makedirs(rc)
for f in ("gps.log", "accel.csv"):
    with open(os.path.join(rc, f), "w") as o:
        o.write(open(os.path.join(r21, f)).read())
        lines = open(os.path.join(r22, f)).read().splitlines(True)
        o.writelines(lines[1:])  # the second header / VERSION line
for f in ("meta.conf", "phone.csv", "can.log"):
    shutil.copy(os.path.join(r21, f), rc)
rdc, rmc, endc = replay(rc, "c", os.path.join(tmp, "sc"))
check(len(rmc) == 1, "(c) the re-mount is found without a restart (%s)" % rmc)
# the moving seconds of drive 21 (its trip summary): what came before drive 22
mov21 = [r[4]["mov"] for r in emitlib.read_emit(os.path.join(tmp, "run-21", "emit.txt")) if r[1] == "trip_end"][0]
if rmc:
    check(rmc[0][0] - mov21 <= 180, "(c) within 180 s of driving in drive 22 (%.0f s)" % (rmc[0][0] - mov21))
if endb21 and endc:
    pair(endb21, endc, "(c) at the end")

shutil.rmtree(tmp)
if fails:
    sys.exit("calib_quat_data: %d check(s) failed" % len(fails))
print("calib_quat_data: ok")
