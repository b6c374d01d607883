"""Writes a tiny llama-architecture GGUF model with random weights that a real llama-server loads
and serves (chat and embeddings). It knows nothing: its output is noise, but every byte of the
OpenAI wire around it is real.

- vocabulary: SentencePiece-style ("llama" tokenizer), 259 tokens: <unk>, <s>, </s> and the 256
  byte tokens <0x00>…<0xFF> (every text tokenizes through byte fallback);
- 2 blocks, 64-wide embeddings, 4 heads, 128-wide feed-forward, 4096 tokens of context (long
  enough for a stream that lasts seconds);
- float32 tensors drawn from a seeded normal distribution (same seed, same file), ~0.5 MB;
- a minimal chat template.

Usage: python tools/tiny-gguf/make.py OUT.gguf [--seed N]
"""
import argparse

import gguf
import numpy as np

VOCAB = ["<unk>", "<s>", "</s>"] + [f"<0x{byte:02X}>" for byte in range(256)]
EMBED, BLOCKS, HEADS, FEED_FORWARD, CONTEXT = 64, 2, 4, 128, 4096
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    def weights(*shape):
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer = gguf.GGUFWriter(args.out, "llama")
    writer.add_name("porten-tiny-random")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(BLOCKS)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBED // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(VOCAB)
    writer.add_token_scores([0.0] * len(VOCAB))
    writer.add_token_types([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    # numpy shapes are (rows, columns); GGUF stores them reversed, as ggml expects.
    writer.add_tensor("token_embd.weight", weights(len(VOCAB), EMBED))
    for block in range(BLOCKS):
        prefix = f"blk.{block}."
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(EMBED, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(prefix + name + ".weight", weights(EMBED, EMBED))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(EMBED, dtype=np.float32))
        writer.add_tensor(prefix + "ffn_gate.weight", weights(FEED_FORWARD, EMBED))
        writer.add_tensor(prefix + "ffn_up.weight", weights(FEED_FORWARD, EMBED))
        writer.add_tensor(prefix + "ffn_down.weight", weights(EMBED, FEED_FORWARD))
    writer.add_tensor("output_norm.weight", np.ones(EMBED, dtype=np.float32))
    writer.add_tensor("output.weight", weights(len(VOCAB), EMBED))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
