//! The standard workload for KV-cache-aware routing: `groups` system prompts, each shared by
//! `users` users with a question of their own. With `unique_questions` every request asks a
//! question never asked before, as in SGLang's generated-shared-prefix bench: only the system
//! prompt can be a cache hit, so routing, not repetition, decides the hit rate.
//! Each request picks a group (uniformly, or skewed so group 0 dominates: weight of group `g`
//! is `1 / (g + 1)^skew`) and a user in it; the prompt is the group's prefix then the user's
//! question. A router that keeps a group on one replica turns the prefix into cache hits.

use std::sync::Arc;

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Conversation, LengthDist, Turn, Workload, text};

pub struct SharedPrefix {
    prefixes: Vec<Arc<str>>,
    /// `questions[group][user]`.
    questions: Vec<Vec<String>>,
    /// Set with `unique_questions`: each request draws a fresh question of this length.
    fresh_questions: Option<LengthDist>,
    output: LengthDist,
    pick_group: Option<WeightedIndex<f64>>,
    describe: String,
    rng: SmallRng,
}

#[derive(Debug, Clone)]
pub struct SharedPrefixSpec {
    pub groups: u32,
    pub users: u32,
    pub prefix_len: u32,
    pub suffix: LengthDist,
    pub output: LengthDist,
    /// 0 = uniform over groups.
    pub skew: f64,
    /// Every request a new question (`users` is then unused).
    pub unique_questions: bool,
}

impl SharedPrefix {
    pub fn new(spec: &SharedPrefixSpec, seed: u64) -> Result<Self, String> {
        if spec.groups == 0 || (spec.users == 0 && !spec.unique_questions) {
            return Err("shared-prefix needs at least one group and one user".into());
        }
        if !(spec.skew.is_finite() && spec.skew >= 0.0) {
            return Err(format!("skew must be >= 0, got {}", spec.skew));
        }
        let mut rng = SmallRng::seed_from_u64(seed);
        let prefixes = (0..spec.groups)
            .map(|g| {
                // A distinct opening per group so no two groups share even their first block.
                let mut prefix = format!("System prompt {g}.");
                text::push_words(&mut prefix, spec.prefix_len.saturating_sub(3), &mut rng);
                Arc::from(prefix)
            })
            .collect();
        let questions = (0..spec.groups)
            .map(|_| {
                (0..spec.users)
                    .map(|_| {
                        let words = spec.suffix.sample(&mut rng);
                        text::words(words, &mut rng)
                    })
                    .collect()
            })
            .collect();
        let pick_group = if spec.skew > 0.0 {
            let weights: Vec<f64> = (0..spec.groups)
                .map(|g| 1.0 / f64::from(g + 1).powf(spec.skew))
                .collect();
            Some(WeightedIndex::new(weights).map_err(|e| format!("group weights: {e}"))?)
        } else {
            None
        };
        let describe = format!(
            "shared-prefix {} groups x {}, prefix={} suffix={} out={}{}",
            spec.groups,
            if spec.unique_questions {
                "unique questions".to_string()
            } else {
                format!("{} users", spec.users)
            },
            spec.prefix_len,
            spec.suffix,
            spec.output,
            if spec.skew > 0.0 {
                format!(" skew={}", spec.skew)
            } else {
                String::new()
            }
        );
        Ok(Self {
            prefixes,
            questions,
            fresh_questions: spec.unique_questions.then_some(spec.suffix),
            output: spec.output,
            pick_group,
            describe,
            rng,
        })
    }
}

impl Workload for SharedPrefix {
    fn next_conversation(&mut self) -> Conversation {
        let group = match &self.pick_group {
            Some(weighted) => weighted.sample(&mut self.rng),
            None => self.rng.random_range(0..self.prefixes.len()),
        };
        let user = match self.fresh_questions {
            Some(length) => {
                let words = length.sample(&mut self.rng);
                text::words(words, &mut self.rng)
            }
            None => {
                let users = &self.questions[group];
                users[self.rng.random_range(0..users.len())].clone()
            }
        };
        Conversation {
            system: Some(Arc::clone(&self.prefixes[group])),
            turns: vec![Turn {
                user,
                max_tokens: self.output.sample(&mut self.rng),
            }],
        }
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(skew: f64) -> SharedPrefixSpec {
        SharedPrefixSpec {
            groups: 4,
            users: 3,
            prefix_len: 40,
            suffix: LengthDist::Fixed(6),
            output: LengthDist::Fixed(2),
            skew,
            unique_questions: false,
        }
    }

    #[test]
    fn prompts_share_their_group_prefix_and_repeat_per_user() {
        let mut w = SharedPrefix::new(&spec(0.0), 1).unwrap();
        let convs: Vec<_> = (0..400).map(|_| w.next_conversation()).collect();
        let prefixes: std::collections::HashSet<_> =
            convs.iter().map(|c| c.system.clone().unwrap()).collect();
        assert_eq!(prefixes.len(), 4);
        let prompts: std::collections::HashSet<_> = convs
            .iter()
            .map(|c| (c.system.clone().unwrap(), c.turns[0].user.clone()))
            .collect();
        assert_eq!(prompts.len(), 12, "4 groups x 3 users");
        for p in &prefixes {
            assert!(p.split(' ').count() >= 38, "{p}");
        }
    }

    #[test]
    fn skew_makes_group_zero_dominate() {
        let mut w = SharedPrefix::new(&spec(2.0), 1).unwrap();
        let first = w.next_conversation().system.unwrap();
        let mut w = SharedPrefix::new(&spec(2.0), 1).unwrap();
        let group0 = (0..1000)
            .filter(|_| {
                w.next_conversation()
                    .system
                    .unwrap()
                    .starts_with("System prompt 0.")
            })
            .count();
        // weights 1, 1/4, 1/9, 1/16 -> group 0 has 70%.
        assert!((620..780).contains(&group0), "{group0} {first}");
    }

    #[test]
    fn unique_questions_never_repeat_a_prompt() {
        let mut s = spec(0.0);
        s.unique_questions = true;
        s.users = 0;
        let mut w = SharedPrefix::new(&s, 1).unwrap();
        let convs: Vec<_> = (0..400).map(|_| w.next_conversation()).collect();
        let prompts: std::collections::HashSet<_> = convs
            .iter()
            .map(|c| (c.system.clone().unwrap(), c.turns[0].user.clone()))
            .collect();
        assert_eq!(
            prompts.len(),
            400,
            "a repeated prompt would be a full-cache hit"
        );
        let prefixes: std::collections::HashSet<_> =
            convs.iter().map(|c| c.system.clone().unwrap()).collect();
        assert_eq!(prefixes.len(), 4, "the system prompts are still shared");
        assert!(
            w.describe().contains("unique questions"),
            "{}",
            w.describe()
        );
    }

    #[test]
    fn rejects_empty_shapes() {
        let mut s = spec(0.0);
        s.groups = 0;
        assert!(SharedPrefix::new(&s, 1).is_err());
        let mut s = spec(0.0);
        s.users = 0;
        assert!(
            SharedPrefix::new(&s, 1).is_err(),
            "no users and no fresh questions"
        );
        assert!(SharedPrefix::new(&spec(-1.0), 1).is_err());
    }
}
