//! The event index's match with the router's own recent decisions (the bridge) filling in
//! the blocks the engines' events have not confirmed yet, in one walk over the prompt.

use super::index::MAX_ENDPOINTS;

/// Per endpoint, the leading blocks of `hashes` it holds, each block confirmed by the
/// engines' events (`confirmed_holders`) or by the bridge (`bridged_holders`), into
/// `matched`. Both give a holder set per block (bit `e` for endpoint `e`).
///
/// An endpoint's prefix may be confirmed at its head and only bridged at its tail (the
/// engine computed the tail since its last event), so the sources are united block by
/// block. The bridge is read only at blocks where an endpoint still matching lacks the
/// events' confirmation: for a prefix the events confirm, at its first block alone.
pub fn match_confirmed_or_bridged(
    hashes: &[u64],
    mut confirmed_holders: impl FnMut(&u64) -> u128,
    mut bridged_holders: impl FnMut(&u64) -> u128,
    matched: &mut [u32],
) {
    matched.fill(0);
    let everyone = if matched.len() >= MAX_ENDPOINTS {
        u128::MAX
    } else {
        (1u128 << matched.len()) - 1
    };
    let mut alive = everyone;
    for (depth, hash) in hashes.iter().enumerate() {
        let by_events = confirmed_holders(hash) & alive;
        let mut holders = by_events;
        if alive & !by_events != 0 {
            holders |= bridged_holders(hash) & alive;
        }
        alive = holders;
        if alive == 0 {
            break;
        }
        let mut bits = alive;
        while bits != 0 {
            if let Some(slot) = matched.get_mut(bits.trailing_zeros() as usize) {
                *slot = depth as u32 + 1;
            }
            bits &= bits - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Runs the walk over two block -> holders maps, counting bridge reads.
    fn walk(
        hashes: &[u64],
        events: &HashMap<u64, u128>,
        bridge: &HashMap<u64, u128>,
        endpoints: usize,
    ) -> (Vec<u32>, usize) {
        let mut matched = vec![0; endpoints];
        let mut bridge_reads = 0;
        match_confirmed_or_bridged(
            hashes,
            |h| events.get(h).copied().unwrap_or(0),
            |h| {
                bridge_reads += 1;
                bridge.get(h).copied().unwrap_or(0)
            },
            &mut matched,
        );
        (matched, bridge_reads)
    }

    #[test]
    fn a_confirmed_head_and_a_bridged_tail_make_one_prefix() {
        // Endpoint 0: events confirm blocks 1-2, the bridge has 3-4 (computed since).
        // Endpoint 1: the bridge alone, blocks 1-2. Endpoint 2: events, block 1 only.
        let events = HashMap::from([(1, 0b101), (2, 0b001)]);
        let bridge = HashMap::from([(1, 0b010), (2, 0b010), (3, 0b001), (4, 0b001)]);
        let (matched, _) = walk(&[1, 2, 3, 4, 5], &events, &bridge, 3);
        assert_eq!(matched, [4, 2, 1]);
    }

    #[test]
    fn a_prefix_the_events_confirm_reads_the_bridge_once() {
        let events: HashMap<u64, u128> = (1..=32).map(|h| (h, 0b100)).collect();
        let hashes: Vec<u64> = (1..=32).collect();
        let (matched, bridge_reads) = walk(&hashes, &events, &HashMap::new(), 4);
        assert_eq!(matched, [0, 0, 32, 0]);
        assert_eq!(
            bridge_reads, 1,
            "only the first block, where all four were candidates"
        );
    }

    #[test]
    fn nothing_held_matches_nothing_and_the_widest_pool_works() {
        let (matched, _) = walk(&[7, 8], &HashMap::new(), &HashMap::new(), 2);
        assert_eq!(matched, [0, 0]);
        let events = HashMap::from([(7, 1u128 << 127)]);
        let bridge = HashMap::from([(7, 1u128), (8, 1u128 << 127)]);
        let (matched, _) = walk(&[7, 8], &events, &bridge, MAX_ENDPOINTS);
        assert_eq!((matched[0], matched[127]), (1, 2));
    }
}
