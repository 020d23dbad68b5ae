//! Conversations from a JSONL file, one conversation per line, in either of the two shapes
//! people have on disk:
//! - ShareGPT: `{"conversations": [{"from": "human", "value": "..."}, {"from": "gpt", ...}]}`
//!   (`from` may also be `user`/`assistant`/`system`);
//! - OpenAI messages: `{"messages": [{"role": "user", "content": "..."}, ...]}`.
//!
//! User turns are sent in order; the reference reply that follows a user turn sets that turn's
//! `max_tokens` (about 4 characters per token, as OpenAI's rule of thumb) unless an output
//! length is given. Conversations are shuffled under the seed and cycled.

use std::path::Path;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use serde::Deserialize;

use super::{Conversation, LengthDist, Turn, Workload};

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: no conversation with a user turn")]
    Empty { path: String },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    ShareGpt { conversations: Vec<ShareGptTurn> },
    OpenAi { messages: Vec<OpenAiMessage> },
}

#[derive(Deserialize)]
struct ShareGptTurn {
    from: String,
    value: String,
}

#[derive(Deserialize)]
struct OpenAiMessage {
    role: String,
    content: serde_json::Value,
}

pub struct Dataset {
    conversations: Vec<Conversation>,
    next: usize,
    describe: String,
}

impl Dataset {
    /// `output` overrides the reference replies' lengths; `max_output` caps them.
    pub fn load(
        path: &Path,
        output: Option<LengthDist>,
        max_output: u32,
        seed: u64,
    ) -> Result<Self, DatasetError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut conversations = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let bad = |message: String| DatasetError::Line {
                path: shown.clone(),
                line: index + 1,
                message,
            };
            let line: Line = serde_json::from_str(raw).map_err(|e| {
                bad(format!(
                    "not a conversation ({e}); expected {{\"conversations\":[...]}} or {{\"messages\":[...]}}"
                ))
            })?;
            let messages = normalise(line).map_err(bad)?;
            if let Some(conv) = to_conversation(&messages, output, max_output, &mut rng) {
                conversations.push(conv);
            }
        }
        if conversations.is_empty() {
            return Err(DatasetError::Empty { path: shown });
        }
        conversations.shuffle(&mut rng);
        let turns: usize = conversations.iter().map(|c| c.turns.len()).sum();
        let describe = format!(
            "dataset {} ({} conversations, {} user turns)",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(shown),
            conversations.len(),
            turns
        );
        Ok(Self {
            conversations,
            next: 0,
            describe,
        })
    }
}

enum Role {
    System,
    User,
    Assistant,
}

fn role(name: &str) -> Result<Role, String> {
    match name {
        "system" => Ok(Role::System),
        "human" | "user" => Ok(Role::User),
        "gpt" | "assistant" | "chatgpt" | "bard" | "model" => Ok(Role::Assistant),
        other => Err(format!("unknown role `{other}`")),
    }
}

fn normalise(line: Line) -> Result<Vec<(Role, String)>, String> {
    match line {
        Line::ShareGpt { conversations } => conversations
            .into_iter()
            .map(|t| Ok((role(&t.from)?, t.value)))
            .collect(),
        Line::OpenAi { messages } => messages
            .into_iter()
            .map(|m| {
                let text = match m.content {
                    serde_json::Value::String(s) => s,
                    // Content parts: keep the text parts.
                    serde_json::Value::Array(parts) => parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                        .collect::<Vec<_>>()
                        .join(" "),
                    serde_json::Value::Null => String::new(),
                    other => return Err(format!("message content must be text, got {other}")),
                };
                Ok((role(&m.role)?, text))
            })
            .collect(),
    }
}

fn to_conversation(
    messages: &[(Role, String)],
    output: Option<LengthDist>,
    max_output: u32,
    rng: &mut SmallRng,
) -> Option<Conversation> {
    let mut system = None;
    let mut turns: Vec<Turn> = Vec::new();
    for (i, (role, text)) in messages.iter().enumerate() {
        match role {
            Role::System if turns.is_empty() => system = Some(Arc::from(text.as_str())),
            Role::User if !text.trim().is_empty() => {
                let reference = match messages.get(i + 1) {
                    Some((Role::Assistant, reply)) => Some(reply.chars().count().div_ceil(4)),
                    _ => None,
                };
                let max_tokens = match (output, reference) {
                    (Some(dist), _) => dist.sample(rng),
                    (None, Some(chars)) => u32::try_from(chars).unwrap_or(u32::MAX),
                    (None, None) => 128,
                };
                turns.push(Turn {
                    user: text.clone(),
                    max_tokens: max_tokens.clamp(1, max_output.max(1)),
                });
            }
            _ => {}
        }
    }
    (!turns.is_empty()).then_some(Conversation { system, turns })
}

impl Workload for Dataset {
    fn next_conversation(&mut self) -> Conversation {
        let conv = self.conversations[self.next % self.conversations.len()].clone();
        self.next = self.next.wrapping_add(1);
        conv
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_sharegpt_and_openai_lines() {
        let f = file(concat!(
            r#"{"id":"a","conversations":[{"from":"human","value":"hi there"},{"from":"gpt","value":"0123456789abcdef"},{"from":"human","value":"and then?"}]}"#,
            "\n\n",
            r#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"question"}]},{"role":"assistant","content":"ok"}]}"#,
            "\n",
            r#"{"conversations":[{"from":"gpt","value":"only a reply"}]}"#,
            "\n"
        ));
        let mut d = Dataset::load(f.path(), None, 1000, 1).unwrap();
        let mut convs: Vec<_> = (0..2).map(|_| d.next_conversation()).collect();
        convs.sort_by_key(|c| c.turns.len());
        assert_eq!(convs[0].system.as_deref(), Some("be brief"));
        assert_eq!(convs[0].turns[0].user, "question");
        assert_eq!(convs[0].turns[0].max_tokens, 1);
        assert_eq!(convs[1].turns.len(), 2);
        assert_eq!(convs[1].turns[0].max_tokens, 4, "16 chars / 4");
        assert_eq!(convs[1].turns[1].max_tokens, 128, "no reference reply");
        assert!(d.describe().contains("2 conversations, 3 user turns"));
        // Cycles.
        assert_eq!(d.next_conversation(), d.conversations[0]);
    }

    #[test]
    fn errors_name_the_line() {
        let f = file("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}\n{\"prompt\": 1}\n");
        let err = Dataset::load(f.path(), None, 10, 1)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(":2: not a conversation"), "{err}");
        let f = file("{\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}\n");
        let err = Dataset::load(f.path(), None, 10, 1)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(":1: unknown role `robot`"), "{err}");
        let f = file("\n");
        assert!(matches!(
            Dataset::load(f.path(), None, 10, 1),
            Err(DatasetError::Empty { .. })
        ));
    }
}
