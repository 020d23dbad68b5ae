//! How a request's prompt becomes index keys: fixed-size byte blocks of the rendered
//! conversation, or token blocks of the prompt the engine will see (when a tokenizer is
//! configured, the same blocks the engine caches).

use std::sync::Arc;

use super::blocks::{block_hashes, render_chat, render_completion, token_block_keys};
use crate::tokenizer::PromptTokenizer;

#[derive(Debug)]
pub enum PromptKeying {
    Bytes {
        block_bytes: usize,
    },
    Tokens {
        tokenizer: Arc<PromptTokenizer>,
        block_tokens: usize,
    },
}

/// A prompt cut into keyed blocks.
#[derive(Debug, Default)]
pub struct PromptBlocks {
    /// Chained keys of the prompt's full blocks.
    pub keys: Vec<u64>,
    /// The prompt's length, in the keying's unit (bytes or tokens).
    pub len: usize,
}

impl PromptKeying {
    /// Units (bytes or tokens) per block.
    pub fn block_len(&self) -> usize {
        match self {
            Self::Bytes { block_bytes } => *block_bytes,
            Self::Tokens { block_tokens, .. } => *block_tokens,
        }
    }

    pub fn in_tokens(&self) -> bool {
        matches!(self, Self::Tokens { .. })
    }

    /// The request's prompt blocks, or `None` for requests without a prompt to key.
    pub fn blocks(&self, path_and_query: &str, body: &[u8]) -> Option<PromptBlocks> {
        let path = path_and_query.split('?').next().unwrap_or(path_and_query);
        match self {
            Self::Bytes { block_bytes } => {
                let text = match path {
                    "/v1/chat/completions" => render_chat(body)?,
                    "/v1/completions" => render_completion(body)?,
                    _ => return None,
                };
                Some(PromptBlocks {
                    keys: block_hashes(text.as_bytes(), *block_bytes),
                    len: text.len(),
                })
            }
            Self::Tokens {
                tokenizer,
                block_tokens,
            } => {
                let tokens = tokenizer.prompt_tokens(path, body)?;
                Some(PromptBlocks {
                    keys: token_block_keys(&tokens, *block_tokens),
                    len: tokens.len(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_keying_counts_tokens_and_full_blocks() {
        let keying = PromptKeying::Tokens {
            tokenizer: Arc::new(PromptTokenizer::Simulator),
            block_tokens: 2,
        };
        // The simulator's tokenizer: 4 bytes a token, so 20 bytes are 5 tokens, 2 blocks.
        let blocks = keying
            .blocks(
                "/v1/completions?x=1",
                br#"{"prompt":"aaaabbbbccccddddeeee"}"#,
            )
            .unwrap();
        assert_eq!((blocks.keys.len(), blocks.len), (2, 5));
        let bytes = PromptKeying::Bytes { block_bytes: 4 };
        let blocks = bytes
            .blocks("/v1/completions", br#"{"prompt":"aaaabbbbccccddddeeee"}"#)
            .unwrap();
        assert_eq!((blocks.keys.len(), blocks.len), (5, 20));
        assert!(bytes.blocks("/v1/embeddings", b"{}").is_none());
    }
}
