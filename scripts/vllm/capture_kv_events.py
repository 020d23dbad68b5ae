"""Capture real KV-cache event batches from a running vLLM instance (started with
`scripts/vllm/start.sh --kv-events`) as test fixtures for the Rust decoder.

Writes into OUT:
  live-NNN.msgpack   the payload frame of each published message, as vLLM sent it
  replay-NNN.msgpack payloads returned by the replay socket for sequence 0 onwards
  array-NNN.msgpack  the same batches re-encoded in the older array form (each event
                     `[type, field, field, ...]` in vLLM's field order), which releases
                     before the map-tagged encoding published
  frames.json        topic and sequence number of every live and replay frame

Usage: python capture_kv_events.py STATE_FILE OUT_DIR
"""
import json
import struct
import sys
import time
import urllib.request
from pathlib import Path

import msgspec
import zmq

state = json.loads(Path(sys.argv[1]).read_text())
out = Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
inst = state["instances"][0]
kv = inst["kv_events"]
pub_port = kv["endpoint"].rsplit(":", 1)[1]
replay_port = kv["replay_endpoint"].rsplit(":", 1)[1]
topic = kv["topic"].encode()

ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.connect(f"tcp://127.0.0.1:{pub_port}")
sub.setsockopt(zmq.SUBSCRIBE, topic)
time.sleep(0.5)  # let the subscription reach the publisher


def complete(prompt, max_tokens):
    body = json.dumps({"model": state.get("served_model_name", "tiny-llama"), "prompt": prompt,
                       "max_tokens": max_tokens, "ignore_eos": True}).encode()
    req = urllib.request.Request(f"{inst['url']}/v1/completions", body,
                                 {"content-type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()


shared = " ".join(f"word{i % 50}" for i in range(60))
complete(shared + " first question", 8)
complete(shared + " second question", 8)  # reuses the shared blocks
for n in range(6):  # different prompts: fill the small cache and force evictions
    complete(" ".join(f"other{n}x{i}" for i in range(50)), 16)

frames = []
deadline = time.time() + 3
while time.time() < deadline:
    if sub.poll(200):
        t, seq, payload = sub.recv_multipart()
        n = len([f for f in frames if f["kind"] == "live"])
        (out / f"live-{n:03d}.msgpack").write_bytes(payload)
        frames.append({"kind": "live", "topic": t.decode(), "seq": struct.unpack(">q", seq)[0]})

dealer = ctx.socket(zmq.DEALER)
dealer.connect(f"tcp://127.0.0.1:{replay_port}")
dealer.send_multipart([b"", struct.pack(">q", 0)])
n = 0
while dealer.poll(2000):
    parts = dealer.recv_multipart()
    _, t, seq, payload = parts
    seq = struct.unpack(">q", seq)[0]
    if seq == -1:
        break
    (out / f"replay-{n:03d}.msgpack").write_bytes(payload)
    frames.append({"kind": "replay", "topic": t.decode(), "seq": seq})
    n += 1

for path in sorted(out.glob("live-*.msgpack")):
    ts, events, *rest = msgspec.msgpack.decode(path.read_bytes())
    arrays = [[e["type"], *[v for k, v in e.items() if k != "type"]] for e in events]
    (out / path.name.replace("live-", "array-")).write_bytes(
        msgspec.msgpack.encode([ts, arrays, *rest]))

(out / "frames.json").write_text(json.dumps(frames, indent=1) + "\n")
print(f"{sum(f['kind'] == 'live' for f in frames)} live, {n} replayed frames into {out}")
