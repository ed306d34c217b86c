"""The tracker bench's load: the wrk script announcing user/torrent pairs (as libtorrent does) to
either tracker, the warm-up and verification passes, the timed runs with the tracker's CPU time,
and a py-spy profile of ours under load."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from bench.common import PYTHON, cpu_seconds

WRK = shutil.which("wrk") or "/usr/bin/wrk"
PER_USER = 5  # torrents each user announces, and users each torrent has


WRK_SCRIPT = Template("""
-- Pair p (0-based) is user p // $per_user announcing torrent (user + k * $stride) % #hashes,
-- k = p % $per_user: every torrent has $per_user peers, every user $per_user torrents.
local hashes = {$hashes}
local passkeys = {$passkeys}
local per_user, stride, pairs = $per_user, $stride, $pairs
local sequential = $sequential
local counter = 0
local next_pair = 0
failures = 0
checked = 0
threads = {}

function setup(thread)
    counter = counter + 1
    thread:set("seed", counter * 7919)
    table.insert(threads, thread)
end

function init(args)
    math.randomseed(seed)
    next_pair = tonumber(args[1] or "0")
end

function request()
    local pair
    if sequential then
        pair = next_pair % pairs
        next_pair = next_pair + 1
    else
        pair = math.random(0, pairs - 1)
    end
    local user = math.floor(pair / per_user)
    local torrent = (user + (pair % per_user) * stride) % #hashes
    local left = (pair % 4 == 0) and 0 or 1048576
    local path = "/announce"
    if #passkeys > 0 then path = path .. "/" .. passkeys[user + 1] end
    local query = "?info_hash=" .. hashes[torrent + 1]
        .. "&peer_id=-BN0001-" .. string.format("%012d", pair)
        .. "&port=" .. (10000 + pair % 50000)
        .. "&uploaded=" .. math.random(0, 1000000000)
        .. "&downloaded=" .. math.random(0, 1000000000)
        .. "&left=" .. left
        .. "&corrupt=0&key=" .. string.format("%08X", pair)
        .. "&numwant=50&compact=1&no_peer_id=1&supportcrypto=1&redundant=0"
    return wrk.format("GET", path .. query, {["Connection"] = "close"})
end

$response
function done(summary, latency, requests)
    local bad, seen = 0, 0
    for _, thread in ipairs(threads) do
        bad = bad + thread:get("failures")
        seen = seen + thread:get("checked")
    end
    io.write(string.format(
        "RESULT requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p99_us=%d "
        .. "checked=%d failures=%d\\n",
        summary.requests, summary.duration, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.timeout,
        latency:percentile(50), latency:percentile(99), seen, bad))
end
""")


# Only in the verification pass: a response() callback makes wrk parse every body.
VERIFY_RESPONSE = """
function response(status, headers, body)
    checked = checked + 1
    if status ~= 200 or not string.find(body, "5:peers", 1, true) then
        failures = failures + 1
    end
end
"""


@dataclass
class Run:
    per_second: float
    requests: int
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    cpu_ms: float = 0.0  # CPU time per announce of the tracker's processes


@dataclass
class Tracker:
    name: str
    base: str
    passkeys: bool  # whether the announce path carries the user's passkey
    checked: int = 0
    pids: list[int] = field(default_factory=list)  # its processes (ours: uvicorn and Redis)


def percent(value: bytes) -> str:
    return "".join(f"%{b:02X}" for b in value)


def stride(torrents: int) -> int:
    """A user's torrents are this far apart, so each torrent gets PER_USER distinct users."""
    return max(1, torrents // PER_USER)


def wrk(script: Path, url: str, seconds: int, connections: int, *extra: str) -> dict[str, int]:
    args = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
            "-s", str(script), url]  # fmt: skip
    if extra:
        args += ["--", *extra]
    out = subprocess.run(
        args, check=True, capture_output=True, text=True, timeout=seconds + 60
    ).stdout
    match = re.search(r"^RESULT (.*)$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def write_scripts(
    tracker: Tracker, hashes: list[bytes], passkeys: list[str], work: Path
) -> dict[str, Path]:
    scripts = {}
    kinds = (("warm", VERIFY_RESPONSE, True), ("verify", VERIFY_RESPONSE, False),
             ("timed", "", False))  # fmt: skip
    for kind, response, sequential in kinds:
        scripts[kind] = work / f"{tracker.name}-{kind}.lua"
        scripts[kind].write_text(
            WRK_SCRIPT.substitute(
                hashes=", ".join(f'"{percent(h)}"' for h in hashes),
                passkeys=", ".join(f'"{key}"' for key in passkeys) if tracker.passkeys else "",
                per_user=PER_USER,
                stride=stride(len(hashes)),
                pairs=len(passkeys) * PER_USER,
                sequential="true" if sequential else "false",
                response=response,
            )
        )
    return scripts


def warm(tracker: Tracker, script: Path, pairs: int, connections: int) -> None:
    """Every pair announces once, in order: the swarms hold all the peers, and our tracker
    read each passkey, content and decision from the database once (as each pair's first
    announce of the day does in production). Refuses a tracker that fails announces."""
    done = 0
    while done < pairs:
        stats = wrk(script, tracker.base, 20, connections, str(done))
        if stats["failures"] or stats["non2xx"] or stats["checked"] != stats["requests"]:
            raise RuntimeError(f"{tracker.name} failed announces while warming: {stats}")
        done += stats["requests"]
        print(f"  {tracker.name}: {min(done, pairs)}/{pairs} pairs announced", flush=True)


def verify(tracker: Tracker, script: Path, connections: int) -> None:
    """Refuse to time a tracker that fails announces (random pairs, as timed)."""
    check = wrk(script, tracker.base, 3, connections)
    if check["failures"] or check["non2xx"] or check["checked"] != check["requests"]:
        raise RuntimeError(f"{tracker.name} failed announces: {check}")
    tracker.checked += check["checked"]


def timed(tracker: Tracker, script: Path, seconds: int, connections: int) -> Run:
    cpu_before = sum(cpu_seconds(pid) for pid in tracker.pids)
    stats = wrk(script, tracker.base, seconds, connections)
    cpu = sum(cpu_seconds(pid) for pid in tracker.pids) - cpu_before
    return Run(
        cpu_ms=1000 * cpu / max(stats["requests"], 1),
        per_second=stats["requests"] / (stats["duration_us"] / 1e6),
        requests=stats["requests"],
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        non2xx=stats["non2xx"],
        socket_errors=stats["errors"],
    )


def profile_ours(pid: int, script: Path, tracker: Tracker, seconds: int, connections: int) -> str:
    """py-spy's top functions (own time) in our tracker while wrk drives it."""
    spy = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
    if not Path(spy).exists():
        return "py-spy is not installed"
    out = Path(tempfile.mkdtemp(prefix="btt-spy-")) / "profile.txt"
    record = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--format", "raw",
         "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wrk(script, tracker.base, seconds, connections)
    record.wait(seconds + 60)
    if not out.exists():
        return "py-spy recorded nothing (needs ptrace permission)"
    own: dict[str, int] = {}
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        leaf = stack.split(";")[-1]
        own[leaf] = own.get(leaf, 0) + int(count)
    shutil.rmtree(out.parent, ignore_errors=True)
    top = sorted(own.items(), key=lambda item: -item[1])[:8]
    return "; ".join(f"{name} {100 * n / total:.0f}%" for name, n in top) if total else ""
