//! Pseudo-tokenizer and chat template.
//!
//! One token per 4 bytes of UTF-8 (the last token may be shorter); the token
//! id is the little-endian value of those bytes. It is cheap, stable, gives
//! about the token counts of a real BPE tokenizer on English text, and two
//! texts that share a prefix of `n` bytes share `n / 4` leading tokens, which
//! is what the prefix cache needs.

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// Bytes of text per token.
pub const BYTES_PER_TOKEN: usize = 4;

/// Splits `text` into token ids.
pub fn tokenize(text: &str) -> Vec<u32> {
    text.as_bytes()
        .chunks(BYTES_PER_TOKEN)
        .map(|chunk| {
            let mut word = [0u8; BYTES_PER_TOKEN];
            word[..chunk.len()].copy_from_slice(chunk);
            u32::from_le_bytes(word)
        })
        .collect()
}

/// Renders chat messages with a ChatML-like template, as the tiny test model
/// of the real vLLM set-up does:
/// `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then
/// `<|im_start|>assistant\n` when a generation prompt is wanted. Conversations
/// that share leading messages therefore share a prompt prefix.
pub fn render_chat<'a>(
    messages: impl IntoIterator<Item = (&'a str, &'a str)>,
    add_generation_prompt: bool,
) -> String {
    let mut out = String::new();
    for (role, content) in messages {
        out.push_str("<|im_start|>");
        out.push_str(role);
        out.push('\n');
        out.push_str(content);
        out.push_str("<|im_end|>\n");
    }
    if add_generation_prompt {
        out.push_str("<|im_start|>assistant\n");
    }
    out
}

/// Generated tokens: a space plus a three-letter word, so each one is
/// exactly one pseudo-token (4 bytes) long.
const WORDS: [&str; 32] = [
    " the", " and", " for", " are", " but", " not", " you", " all", " any", " can", " had", " her",
    " was", " one", " our", " out", " day", " get", " has", " him", " his", " how", " man", " new",
    " now", " old", " see", " two", " way", " who", " boy", " did",
];

/// Deterministic generator of output token texts.
pub struct OutputText {
    rng: SmallRng,
}

impl OutputText {
    /// A generator whose sequence depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// Text of the next generated token (4 bytes).
    pub fn next_token(&mut self) -> &'static str {
        WORDS[self.rng.random_range(0..WORDS.len())]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn four_bytes_per_token() {
        assert_eq!(tokenize("").len(), 0);
        assert_eq!(tokenize("abcd").len(), 1);
        assert_eq!(tokenize("abcde").len(), 2);
        assert_eq!(tokenize("abcd"), vec![u32::from_le_bytes(*b"abcd")]);
    }

    #[test]
    fn shared_text_prefix_shares_tokens() {
        let a = tokenize("hello world, this is a shared prefix; then A");
        let b = tokenize("hello world, this is a shared prefix; then BBB");
        let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        assert_eq!(
            common,
            "hello world, this is a shared prefix; then ".len() / 4
        );
    }

    #[test]
    fn chat_template_extends_prefixes() {
        let one = render_chat([("system", "be brief"), ("user", "hi")], true);
        let two = render_chat(
            [
                ("system", "be brief"),
                ("user", "hi"),
                ("assistant", "yo"),
                ("user", "more"),
            ],
            true,
        );
        assert!(one.starts_with("<|im_start|>system\nbe brief<|im_end|>\n"));
        assert!(one.ends_with("<|im_start|>assistant\n"));
        let shared = "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n";
        assert!(two.starts_with(shared));
    }

    #[test]
    fn output_text_is_deterministic_and_one_token_each() {
        let mut a = OutputText::new(7);
        let mut b = OutputText::new(7);
        for _ in 0..50 {
            let t = a.next_token();
            assert_eq!(t, b.next_token());
            assert_eq!(tokenize(t).len(), 1);
            assert_eq!(t.len(), BYTES_PER_TOKEN);
        }
    }
}
