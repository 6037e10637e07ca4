#!/usr/bin/env python3
"""Code blocks of the docs that tests execute or compare, so docs and tests
cannot drift apart.

A block is marked by an HTML comment on the line before its opening fence:

    <!-- odo:block NAME -->
    ```sh
    ...
    ```

  docblock.py FILE NAME      print block NAME's text (exit 1 if it is not there)
  docblock.py --list FILE    print every block name in FILE, in order

A name appears at most once per file (exit 1 otherwise); the comment is
invisible in the rendered page.
"""
import re
import sys

MARK = re.compile(r"^\s*<!--\s*odo:block\s+([A-Za-z0-9_.-]+)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)(.*)$")


def blocks(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        m = MARK.match(lines[i])
        if not m:
            i += 1
            continue
        name = m.group(1)
        if i + 1 >= len(lines) or not FENCE.match(lines[i + 1]):
            sys.exit("%s:%d: odo:block %s is not followed by a code fence" % (path, i + 1, name))
        f = FENCE.match(lines[i + 1])
        indent, fence = f.group(1), f.group(2)
        body, j = [], i + 2
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        if j >= len(lines):
            sys.exit("%s:%d: odo:block %s has no closing fence" % (path, i + 1, name))
        if any(n == name for n, _ in out):
            sys.exit("%s:%d: odo:block %s appears twice" % (path, i + 1, name))
        out.append((name, "\n".join(body) + "\n"))
        i = j + 1
    return out


def main(argv):
    if len(argv) == 3 and argv[1] == "--list":
        for name, _ in blocks(argv[2]):
            print(name)
        return 0
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    for name, text in blocks(argv[1]):
        if name == argv[2]:
            sys.stdout.write(text)
            return 0
    sys.stderr.write("%s: no block named %s (<!-- odo:block %s -->)\n" % (argv[1], argv[2], argv[2]))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
