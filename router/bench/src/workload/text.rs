//! Synthetic prompt text. Words are drawn from common English words that common BPE
//! tokenizers (Llama, GPT, Qwen) encode as one token each with their leading space, so a
//! prompt of N words is close to N tokens; the report uses the server's own `usage` counts,
//! never this estimate.

use rand::Rng;

const WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
    "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an",
    "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no", "she", "other", "its", "may",
    "these", "what", "them", "than", "some", "him", "time", "into", "only", "do", "new", "about",
    "two", "first", "then", "also", "any", "like", "our", "could", "made", "my", "after", "people",
    "out", "many", "very", "such", "work", "most", "over", "how", "state", "long", "use", "life",
    "where", "well", "between", "world", "year", "part", "through", "day", "each", "back", "water",
    "down", "even", "place", "under", "good", "both", "old", "great", "same", "see", "man",
    "house", "while", "last", "right", "high", "form", "make", "help", "three", "small", "found",
    "still", "large", "end", "home", "city", "point", "hand", "light", "book", "road", "line",
    "game", "name", "power", "case", "system", "number", "group", "field", "model", "data",
    "table", "paper", "music", "story", "river", "green", "blue", "red", "black", "white", "open",
    "close", "early", "late", "night", "morning", "north", "south", "east", "west", "summer",
    "winter", "market", "school", "family", "study", "order", "level", "child", "power", "money",
    "price", "cost", "rate",
];

/// Appends `words` random words to `out`, separated by spaces.
pub fn push_words(out: &mut String, words: u32, rng: &mut impl Rng) {
    out.reserve(words as usize * 6);
    for i in 0..words {
        if i > 0 || !out.is_empty() {
            out.push(' ');
        }
        out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
}

pub fn words(count: u32, rng: &mut impl Rng) -> String {
    let mut out = String::new();
    push_words(&mut out, count, rng);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn makes_the_number_of_words_asked_for_reproducibly() {
        let a = words(50, &mut SmallRng::seed_from_u64(3));
        let b = words(50, &mut SmallRng::seed_from_u64(3));
        assert_eq!(a, b);
        assert_eq!(a.split(' ').count(), 50);
        assert_ne!(a, words(50, &mut SmallRng::seed_from_u64(4)));
    }
}
