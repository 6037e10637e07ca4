#!/usr/bin/env python3
"""tools_public_headers: no program under tools/ includes a header that is
private to a module. A header is private when it declares module__private()
functions (the double underscore, STYLE.md) or is named *_int.h / run.h.
The check resolves each quoted #include of every tools/ source against the
include roots the build gives (agent/, collector/, common/include/, the
tool's own directory) and fails naming the file and the header."""
import os
import re
import sys

root = sys.argv[1]
roots = [os.path.join(root, d) for d in ("agent", "collector", "common/include")]
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
private_fn = re.compile(r"\b[a-z][a-z0-9]*__[a-z0-9_]+\s*\(")
bad = []
checked = 0
for dirpath, _, files in os.walk(os.path.join(root, "tools")):
    for name in files:
        if not name.endswith((".c", ".h")):
            continue
        path = os.path.join(dirpath, name)
        for h in inc.findall(open(path, encoding="utf-8").read()):
            for base in [dirpath] + roots:
                cand = os.path.join(base, h)
                if os.path.isfile(cand):
                    break
            else:
                bad.append(f"{path}: includes \"{h}\", found in no include root")
                continue
            checked += 1
            if cand.startswith(os.path.join(root, "tools")):
                continue  # the tool's own header
            text = open(cand, encoding="utf-8").read()
            hb = os.path.basename(h)
            if hb.endswith("_int.h") or hb == "run.h" or private_fn.search(text):
                bad.append(f"{os.path.relpath(path, root)}: includes the private header {h}")
if checked == 0:
    sys.exit("FAIL: no #include found under tools/ (wrong source dir?)")
for b in bad:
    print("FAIL:", b)
print(f"{checked} includes checked, {len(bad)} private")
sys.exit(1 if bad else 0)
