//! coverage.py's numbits (`coveragepy::Numbits`) on arbitrary bytes: never panic; the
//! decoded numbers are strictly increasing and each is a member; packing them again gives
//! the input without its trailing zero bytes; union and intersection agree with the sets.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use livecov_formats::coveragepy::Numbits;

fn stripped(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

fuzz_target!(|data: &[u8]| {
    // The first byte splits the rest into two blobs.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = (split as usize).min(rest.len());
    let (a_bytes, b_bytes) = rest.split_at(at);
    let a = Numbits::from_blob(a_bytes.to_vec()).expect("short blobs are accepted");
    let b = Numbits::from_blob(b_bytes.to_vec()).expect("short blobs are accepted");

    let nums = a.to_nums();
    assert!(
        nums.windows(2).all(|w| w[0] < w[1]),
        "not increasing: {nums:?}"
    );
    assert!(nums.iter().all(|&n| a.contains(n)));
    assert_eq!(
        nums.len(),
        a_bytes
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum::<usize>()
    );
    assert_eq!(a.is_empty(), nums.is_empty());
    assert_eq!(
        Numbits::from_nums(nums.iter().copied()).as_bytes(),
        stripped(a_bytes)
    );

    let (set_a, set_b): (BTreeSet<u32>, BTreeSet<u32>) =
        (nums.into_iter().collect(), b.iter().collect());
    let mut union = a.clone();
    union.union_with(&b);
    assert_eq!(union.as_bytes().len(), a_bytes.len().max(b_bytes.len()));
    assert_eq!(union.iter().collect::<BTreeSet<_>>(), &set_a | &set_b);
    let inter = a.intersection(&b);
    assert_eq!(inter.as_bytes(), stripped(inter.as_bytes()));
    assert_eq!(inter.iter().collect::<BTreeSet<_>>(), &set_a & &set_b);
});
