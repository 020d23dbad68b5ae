//! What the engine will see of a request, cut into fixed-size byte blocks with chained hashes.
//! Block `i`'s hash covers blocks `0..=i`, so one hash names a whole prefix, as an engine's
//! block hashes do. Only full blocks count: engines cache full blocks only.

use serde::Deserialize;
use serde_json::value::RawValue;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Separators that cannot appear in JSON-decoded text by accident, so `("ab","c")` and
/// `("a","bc")` render differently.
const FIELD: char = '\u{1f}';
const RECORD: char = '\u{1e}';

#[derive(Deserialize)]
struct ChatBody<'a> {
    #[serde(borrow)]
    messages: Vec<ChatMessage<'a>>,
}

#[derive(Deserialize)]
struct ChatMessage<'a> {
    #[serde(default)]
    role: Option<&'a str>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct CompletionBody<'a> {
    #[serde(borrow)]
    prompt: &'a RawValue,
}

/// The conversation as one string: every message, in order (not just the first), each as
/// role, separator, content. Content parts other than text are kept as their raw JSON, so
/// two requests with different images never share a prefix past them.
pub fn render_chat(body: &[u8]) -> Option<String> {
    let chat: ChatBody<'_> = serde_json::from_slice(body).ok()?;
    let mut out = String::with_capacity(body.len());
    for message in &chat.messages {
        out.push_str(message.role.unwrap_or(""));
        out.push(FIELD);
        if let Some(content) = message.content {
            push_content(&mut out, content);
        }
        out.push(RECORD);
    }
    Some(out)
}

fn push_content(out: &mut String, content: &RawValue) {
    let raw = content.get();
    if let Ok(text) = serde_json::from_str::<String>(raw) {
        out.push_str(&text);
    } else if let Ok(parts) = serde_json::from_str::<Vec<serde_json::Value>>(raw) {
        for part in parts {
            match part.get("text").and_then(|t| t.as_str()) {
                Some(text) => out.push_str(text),
                None => out.push_str(&part.to_string()),
            }
        }
    } else {
        out.push_str(raw);
    }
}

/// A text completion's prompt: the string itself, or the raw JSON of a token-id array or of
/// a batch (whose first element leads the batch).
pub fn render_completion(body: &[u8]) -> Option<String> {
    let completion: CompletionBody<'_> = serde_json::from_slice(body).ok()?;
    let raw = completion.prompt.get();
    Some(serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_string()))
}

/// Chained hashes of the full `block_bytes`-sized blocks of `text`.
pub fn block_hashes(text: &[u8], block_bytes: usize) -> Vec<u64> {
    let block_bytes = block_bytes.max(1);
    let mut hashes = Vec::with_capacity(text.len() / block_bytes);
    let mut previous = 0u64;
    for block in text.chunks_exact(block_bytes) {
        previous = xxh3_64_with_seed(block, previous);
        hashes.push(previous);
    }
    hashes
}

/// Root of a token block chain: the parent of a prompt's first block.
pub const TOKEN_CHAIN_ROOT: u64 = 0x7377_6974_6368_7964;

/// The key of one full block of tokens whose parent block has key `parent`: the same on the
/// request path (from the router's tokenization) and in the event index (from the token ids
/// of an engine's `BlockStored`), so neither needs the engine's own hash function.
pub fn token_block_key(parent: u64, tokens: &[u32]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::with_seed(parent);
    for token in tokens {
        hasher.update(&token.to_le_bytes());
    }
    hasher.digest()
}

/// Chained keys of the full `block_tokens`-sized blocks of `tokens`.
pub fn token_block_keys(tokens: &[u32], block_tokens: usize) -> Vec<u64> {
    let mut parent = TOKEN_CHAIN_ROOT;
    tokens
        .chunks_exact(block_tokens.max(1))
        .map(|block| {
            parent = token_block_key(parent, block);
            parent
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_renders_every_message_in_order() {
        let a = render_chat(
            br#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#,
        )
        .unwrap();
        assert_eq!(a, "system\u{1f}be brief\u{1e}user\u{1f}hi\u{1e}");
        let b = render_chat(
            br#"{"messages":[{"role":"system","content":"be brie"},{"role":"user","content":"fhi"}]}"#,
        )
        .unwrap();
        assert_ne!(a, b, "message boundaries are part of the key");
        assert!(render_chat(br#"{"messages":"nope"}"#).is_none());
    }

    #[test]
    fn completions_take_text_or_token_ids() {
        assert_eq!(render_completion(br#"{"prompt":"abc"}"#).unwrap(), "abc");
        assert_eq!(
            render_completion(br#"{"prompt":[1,2,3]}"#).unwrap(),
            "[1,2,3]"
        );
        assert!(render_completion(br#"{"model":"m"}"#).is_none());
    }

    #[test]
    fn token_keys_chain_over_full_blocks_only() {
        let a = token_block_keys(&[1, 2, 3, 4, 5], 2);
        assert_eq!(a.len(), 2);
        assert_eq!(a[..], token_block_keys(&[1, 2, 3, 4, 9, 9], 2)[..2]);
        assert_ne!(a[1], token_block_keys(&[0, 2, 3, 4], 2)[1]);
        assert_eq!(
            a[1],
            token_block_key(token_block_key(TOKEN_CHAIN_ROOT, &[1, 2]), &[3, 4])
        );
    }

    #[test]
    fn hashes_chain_over_full_blocks_only() {
        let a = block_hashes(b"aaaabbbbcc", 4);
        assert_eq!(a.len(), 2, "the partial block is left out");
        let b = block_hashes(b"aaaabbbbdddd", 4);
        assert_eq!(a[..], b[..2], "a shared prefix gives the same hashes");
        let c = block_hashes(b"xaaabbbb", 4);
        assert_ne!(a[1], c[1], "a block's hash depends on everything before it");
    }
}
