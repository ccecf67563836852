"""What `make backup` (scripts/backup.sh) and `make restore` (scripts/restore.sh) share: messages, file hashes and
where the uploaded files live."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

PROG = "backup"  # set by each script: the prefix of its error messages


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def fail(msg, code=1):
    say(f"{PROG}: {msg}")
    sys.exit(code)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def media_root(*, hint: str):
    """MEDIA_ROOT from the environment, else from the project's settings; `hint` says what to do if unreadable."""
    if os.environ.get("MEDIA_ROOT"):
        return Path(os.environ["MEDIA_ROOT"])
    env = dict(os.environ, SECRET_KEY=os.environ.get("SECRET_KEY") or f"{PROG}-reads-settings-only")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.MEDIA_ROOT)",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        fail("cannot read MEDIA_ROOT from the settings:\n" + out.stderr[-1500:] + "\n" + hint)
    return Path(out.stdout.strip())
