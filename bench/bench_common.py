"""What the Python benchmarks share: byte counts in MiB, the raw records as JSON lines, the
process's own memory."""
import json
import sys


def mib(v):
    """v bytes in MiB with one decimal, or a dash for an unknown figure."""
    return "—" if v is None else "%.1f" % (v / 1048576.0)


def write_jsonl(path, records):
    """Every record, one JSON object per line (nothing when path is empty)."""
    if not path:
        return
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def emit(text, path):
    """The tables on stdout, and into path too when one is given."""
    if path:
        with open(path, "w") as f:
            f.write(text)
    sys.stdout.write(text)


def proc_status_bytes(key):
    """A size line of /proc/self/status ("VmRSS", "VmHWM") in bytes, as mini-infer's run prints;
    None where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
