//! A Hugging Face tokenizer from local files: `tokenizer.json` for the vocabulary, and
//! `tokenizer_config.json` beside it for the chat template and the special tokens it uses.

use std::path::Path;

use serde::Deserialize;
use tokenizers::Tokenizer;

use super::chat_template::ChatTemplate;
use super::{ChatRequest, TokenizerError};

pub struct HuggingFaceTokenizer {
    tokenizer: Tokenizer,
    template: Option<ChatTemplate>,
}

/// The parts of `tokenizer_config.json` the prompt depends on.
#[derive(Deserialize, Default)]
struct TokenizerConfigFile {
    #[serde(default)]
    chat_template: Option<TemplateField>,
    #[serde(default)]
    bos_token: Option<TokenField>,
    #[serde(default)]
    eos_token: Option<TokenField>,
}

/// A template string, or a list of named templates (the one named `default` is used).
#[derive(Deserialize)]
#[serde(untagged)]
enum TemplateField {
    One(String),
    Named(Vec<NamedTemplate>),
}

#[derive(Deserialize)]
struct NamedTemplate {
    name: String,
    template: String,
}

/// A special token as a string or as an added-token object.
#[derive(Deserialize)]
#[serde(untagged)]
enum TokenField {
    Text(String),
    Added { content: String },
}

impl TokenField {
    fn into_text(self) -> String {
        match self {
            Self::Text(text) | Self::Added { content: text } => text,
        }
    }
}

impl HuggingFaceTokenizer {
    /// `path` is a model directory or its `tokenizer.json`; `template_override` a Jinja file
    /// used instead of the config's chat template.
    pub fn load(path: &Path, template_override: Option<&Path>) -> Result<Self, TokenizerError> {
        let (file, dir) = if path.is_dir() {
            (path.join("tokenizer.json"), path.to_path_buf())
        } else {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (path.to_path_buf(), dir)
        };
        let mut tokenizer = Tokenizer::from_file(&file).map_err(|e| TokenizerError::Load {
            path: file.clone(),
            message: e.to_string(),
        })?;
        // Engines tokenize prompts unpadded and untruncated (an embedding
        // model's tokenizer.json often pads to a fixed length): so must the
        // router, or its token counts and prefix keys would be off.
        tokenizer.with_padding(None);
        let _ = tokenizer.with_truncation(None);
        let config = read_config(&dir.join("tokenizer_config.json"))?;
        let source = match template_override {
            Some(path) => Some(read(path)?),
            None => config.chat_template.and_then(|field| match field {
                TemplateField::One(source) => Some(source),
                TemplateField::Named(list) => list
                    .into_iter()
                    .find(|t| t.name == "default")
                    .map(|t| t.template),
            }),
        };
        let template = source
            .map(|source| {
                ChatTemplate::new(
                    source,
                    config.bos_token.map(TokenField::into_text),
                    config.eos_token.map(TokenField::into_text),
                )
            })
            .transpose()?;
        Ok(Self {
            tokenizer,
            template,
        })
    }

    /// Whether chat requests can be rendered (the config or an override had a template).
    pub fn has_chat_template(&self) -> bool {
        self.template.is_some()
    }

    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Option<Vec<u32>> {
        match self.tokenizer.encode_fast(text, add_special_tokens) {
            Ok(encoding) => Some(encoding.get_ids().to_vec()),
            Err(error) => {
                tracing::debug!(%error, "tokenizer failed on a prompt");
                None
            }
        }
    }

    pub(super) fn chat_tokens(&self, chat: &ChatRequest<'_>) -> Option<Vec<u32>> {
        let text = self.template.as_ref()?.render(chat)?;
        self.encode(&text, chat.add_special_tokens.unwrap_or(false))
    }
}

fn read(path: &Path) -> Result<String, TokenizerError> {
    std::fs::read_to_string(path).map_err(|source| TokenizerError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A missing `tokenizer_config.json` is allowed (completions need none); a broken one is not.
fn read_config(path: &Path) -> Result<TokenizerConfigFile, TokenizerError> {
    if !path.exists() {
        return Ok(TokenizerConfigFile::default());
    }
    serde_json::from_str(&read(path)?).map_err(|e| TokenizerError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
