#!/usr/bin/env python3
"""Build a tiny random-weight Llama model that vLLM can serve on CPU.

    python scripts/vllm/make_tiny_model.py OUTDIR [--force] [--hidden H --layers L]

Run it with the vLLM venv's Python (it needs torch, transformers, tokenizers, safetensors).
OUTDIR gets config.json, generation_config.json, model.safetensors (bf16), tokenizer.json and
tokenizer_config.json (with a ChatML-like chat_template). Model: Llama, 2 layers, hidden 128,
4 heads (head size 32), intermediate 256, vocab = the tokenizer's (about 1024). The tokenizer is a
byte-level BPE trained with `tokenizers` on generated text. Every random choice is seeded, so the
output is byte-identical across runs (for one set of pinned library versions). The outputs are
gibberish: assert on token counts, metrics and events, never on text. `--hidden` and `--layers`
build a larger model of the same recipe (same tokenizer, head size 32, intermediate 2x hidden),
for benchmarks where prefill must cost more than the per-request overhead.

If OUTDIR already holds a complete build of this recipe (a marker written last records the
recipe's hash), nothing is done. The build goes to a temporary sibling directory that is renamed
into place, so an interrupted run leaves no half-built model behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

SEED = 20240613
VOCAB_SIZE = 1024
MAX_LEN = 512
MARKER = ".switchyard-tiny-model"
BOS, EOS, PAD = "<|begin_of_text|>", "<|im_end|>", "<|pad|>"
SPECIAL_TOKENS = [BOS, "<|endoftext|>", "<|im_start|>", EOS, PAD]

# ChatML-like; ends the prompt with the assistant header when add_generation_prompt is set.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

MODEL_SHAPE = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=MAX_LEN,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    tie_word_embeddings=False,
)


def recipe_hash() -> str:
    """Changes whenever this file or the shape changes, so an old build is not mistaken for a
    new one."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(json.dumps(MODEL_SHAPE, sort_keys=True).encode())
    return h.hexdigest()[:16]


def corpus(rng: random.Random, n_lines: int = 6000) -> list[str]:
    """Generated pseudo-English text, with some digits, punctuation and chat-looking lines."""
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    weights = [12, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1.5, 1, 1, 0.2, 0.2, 0.1, 0.1]
    lexicon = sorted({"".join(rng.choices(letters, weights, k=rng.randint(1, 9))) for _ in range(1500)})
    common = ["the", "of", "and", "to", "in", "is", "you", "that", "it", "for", "on", "with",
              "as", "are", "this", "be", "at", "have", "or", "from", "hello", "world", "user",
              "assistant", "system", "token", "model", "cache", "prefix", "router", "request"]
    lines = []
    for _ in range(n_lines):
        words = []
        for _ in range(rng.randint(3, 24)):
            r = rng.random()
            if r < 0.45:
                w = rng.choice(common)
            elif r < 0.93:
                w = rng.choice(lexicon)
            else:
                w = str(rng.randint(0, 10_000))
            if rng.random() < 0.1:
                w = w.capitalize()
            words.append(w)
        line = " ".join(words) + rng.choice([".", ".", "?", "!", ",", ":", ""])
        if rng.random() < 0.1:
            line = f"<|im_start|>{rng.choice(['user', 'assistant', 'system'])}\n{line}<|im_end|>"
        lines.append(line)
    return lines


def build_tokenizer(out: Path) -> int:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    rng = random.Random(SEED)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(rng), trainer=trainer)
    tok.save(str(out / "tokenizer.json"), pretty=False)
    vocab_size = tok.get_vocab_size(with_added_tokens=True)

    # Written by hand (not save_pretrained) so the files do not depend on transformers' defaults.
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MAX_LEN,
        "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": {
            str(tok.token_to_id(t)): {
                "content": t, "lstrip": False, "normalized": False, "rstrip": False,
                "single_word": False, "special": True,
            }
            for t in SPECIAL_TOKENS
        },
    }
    write_json(out / "tokenizer_config.json", tokenizer_config)
    write_json(out / "special_tokens_map.json", {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD})
    return vocab_size


def build_model(out: Path, vocab_size: int) -> None:
    import numpy as np
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = json.loads((out / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    config = LlamaConfig(
        vocab_size=vocab_size,
        bos_token_id=ids[BOS],
        eos_token_id=ids[EOS],
        pad_token_id=ids[PAD],
        **MODEL_SHAPE,
    )
    with torch.device("meta"):
        shapes = {k: (tuple(v.shape)) for k, v in LlamaForCausalLM(config).state_dict().items()}

    # Our own seeded init, independent of transformers' init code and of torch's CPU-specific
    # vectorised sampling: numpy's PCG64 stream, N(0, 0.02) for matrices, ones for RMSNorm weights.
    rng = np.random.Generator(np.random.PCG64(SEED))
    tensors = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if name.endswith("norm.weight"):
            a = np.ones(shape, dtype=np.float32)
        else:
            a = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
        tensors[name] = torch.from_numpy(a).to(torch.bfloat16).contiguous()
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})

    cfg = config.to_dict()
    cfg["architectures"] = ["LlamaForCausalLM"]
    cfg["model_type"] = "llama"
    cfg["torch_dtype"] = "bfloat16"
    cfg["dtype"] = "bfloat16"
    cfg.pop("transformers_version", None)  # keep the bytes independent of the installed version
    write_json(out / "config.json", cfg)
    write_json(out / "generation_config.json", {
        "bos_token_id": ids[BOS], "eos_token_id": ids[EOS], "pad_token_id": ids[PAD],
        "do_sample": False,
    })


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def is_complete(out: Path) -> bool:
    m = out / MARKER
    return m.is_file() and m.read_text().strip() == recipe_hash()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--force", action="store_true", help="rebuild even if OUTDIR is complete")
    ap.add_argument("--hidden", type=int, default=MODEL_SHAPE["hidden_size"], help="hidden size")
    ap.add_argument("--layers", type=int, default=MODEL_SHAPE["num_hidden_layers"], help="layers")
    args = ap.parse_args()
    if args.hidden != MODEL_SHAPE["hidden_size"] or args.layers != MODEL_SHAPE["num_hidden_layers"]:
        heads = max(args.hidden // 32, 1)
        MODEL_SHAPE.update(hidden_size=args.hidden, intermediate_size=2 * args.hidden,
                           num_hidden_layers=args.layers, num_attention_heads=heads,
                           num_key_value_heads=heads)
    out: Path = args.outdir.resolve()
    if is_complete(out) and not args.force:
        print(f"tiny model already built at {out}", file=sys.stderr)
        print(out)
        return 0

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    random.seed(SEED)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        vocab_size = build_tokenizer(tmp)
        build_model(tmp, vocab_size)
        (tmp / MARKER).write_text(recipe_hash() + "\n")
        os.chmod(tmp, 0o755)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"built tiny model at {out} (vocab {vocab_size})", file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
