//! A Hugging Face chat template, rendered the way `transformers` (and so vLLM) renders it:
//! Jinja with `trim_blocks` and `lstrip_blocks`, Python string methods, `raise_exception`,
//! and `bos_token` / `eos_token` in the context.

use minijinja::{Environment, Error, ErrorKind};
use serde_json::{Map, Value};

use super::{ChatRequest, TokenizerError};

const NAME: &str = "chat";

pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: Option<String>,
    eos_token: Option<String>,
}

impl ChatTemplate {
    pub fn new(
        source: String,
        bos_token: Option<String>,
        eos_token: Option<String>,
    ) -> Result<Self, TokenizerError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned(NAME, source)
            .map_err(|e| TokenizerError::Template(e.to_string()))?;
        Ok(Self {
            env,
            bos_token,
            eos_token,
        })
    }

    /// The prompt text, or `None` when the template rejects the conversation (the engine
    /// will reject it too; routing then goes by load alone).
    pub fn render(&self, chat: &ChatRequest<'_>) -> Option<String> {
        let mut context = Map::new();
        if let Some(Value::Object(extra)) = chat
            .chat_template_kwargs
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
        {
            context.extend(extra);
        }
        context.insert(
            "messages".into(),
            serde_json::from_str(chat.messages.get()).ok()?,
        );
        if let Some(tools) = chat.tools {
            context.insert("tools".into(), serde_json::from_str(tools.get()).ok()?);
        }
        context.insert(
            "add_generation_prompt".into(),
            Value::Bool(chat.add_generation_prompt.unwrap_or(true)),
        );
        for (name, token) in [
            ("bos_token", &self.bos_token),
            ("eos_token", &self.eos_token),
        ] {
            if let Some(token) = token {
                context.insert(name.into(), Value::String(token.clone()));
            }
        }
        let template = self.env.get_template(NAME).ok()?;
        match template.render(Value::Object(context)) {
            Ok(text) => Some(text),
            Err(error) => {
                tracing::debug!(%error, "chat template failed to render a request");
                None
            }
        }
    }
}
