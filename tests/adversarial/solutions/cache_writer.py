# Tries to plant or change compile-cache entries: writes into the cache folder (its path is known) and the
# default one, then swaps its own exchange folder for a link into the cache, so that the grader would copy
# the library there. Then it is solutions/cache_light_add.py, whose build the grader has cached.
import os

CACHE = "{{CACHE}}"


def attempt(fn, *args):
    try:
        fn(*args)
    except Exception:
        pass


def overwrite(path):
    with open(path, "wb") as f:
        f.write(b"\x7fELF planted")


for root in (CACHE, os.path.expanduser("~/.cache/kernel-grader/compile")):
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            attempt(overwrite, os.path.join(dirpath, name))
    attempt(os.makedirs, os.path.join(root, "v1", "entries", "planted"))
exchange = os.environ["KG_EXCHANGE"]
attempt(os.rename, exchange, exchange + ".old")
attempt(os.symlink, os.path.join(CACHE, "v1", "entries"), exchange)

# solutions/cache_light_add.py follows
{{HONEST}}
