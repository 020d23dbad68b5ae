//! Random prompts with input and output lengths drawn from distributions; with `turns > 1`,
//! multi-turn conversations where each turn appends to the history.

use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::{Conversation, LengthDist, Turn, Workload, text};

pub struct Synthetic {
    input: LengthDist,
    output: LengthDist,
    turns: u32,
    rng: SmallRng,
}

impl Synthetic {
    pub fn new(input: LengthDist, output: LengthDist, turns: u32, seed: u64) -> Self {
        Self {
            input,
            output,
            turns: turns.max(1),
            rng: SmallRng::seed_from_u64(seed),
        }
    }
}

impl Workload for Synthetic {
    fn next_conversation(&mut self) -> Conversation {
        let turns = (0..self.turns)
            .map(|_| {
                let words = self.input.sample(&mut self.rng);
                Turn {
                    user: text::words(words, &mut self.rng),
                    max_tokens: self.output.sample(&mut self.rng),
                }
            })
            .collect();
        Conversation {
            system: None,
            turns,
        }
    }

    fn describe(&self) -> String {
        if self.turns > 1 {
            format!(
                "multi-turn {} turns, in={} out={} per turn",
                self.turns, self.input, self.output
            )
        } else {
            format!("synthetic in={} out={}", self.input, self.output)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_conversations() {
        let input = LengthDist::Uniform { min: 5, max: 9 };
        let output = LengthDist::Fixed(4);
        let mut a = Synthetic::new(input, output, 3, 7);
        let mut b = Synthetic::new(input, output, 3, 7);
        for _ in 0..5 {
            let conv = a.next_conversation();
            assert_eq!(conv, b.next_conversation());
            assert_eq!(conv.turns.len(), 3);
            for turn in &conv.turns {
                let words = turn.user.split(' ').count();
                assert!((5..=9).contains(&words), "{words}");
                assert_eq!(turn.max_tokens, 4);
            }
        }
    }
}
