//! "Did you mean": the closest known word to a misspelt one, after rustc's
//! `find_best_match_for_name` (case-insensitive match first, then edit
//! distance within a third of the word's length).

/// The candidate closest to `word`, if any is close enough to be a likely typo.
pub fn best_match<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    if let Some(exact) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(exact);
    }
    let length = word.chars().count();
    // Keywords are short; a long word is no typo of one, and skipping it
    // keeps the quadratic distance off megabyte-long garbage.
    if length > 64 {
        return None;
    }
    let limit = (length.max(3) / 3).max(1);
    // A word that is a dash-separated part of a keyword (or the other way
    // round) means that keyword: `address` for `address-start`.
    let part_of = |c: &str| c.split('-').any(|part| part == lower) || lower.split('-').any(|part| part == c);
    if let Some(related) = candidates.iter().find(|c| part_of(c) && c.len() > 2 && lower.len() > 2) {
        return Some(related);
    }
    candidates
        .iter()
        .filter(|c| c.chars().count().abs_diff(length) <= limit)
        .map(|c| (distance(&lower, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Optimal string alignment distance (Levenshtein plus adjacent swaps).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_unrelated_words() {
        let keys = ["os", "arch", "address", "build", "pod-subnet"];
        assert_eq!(best_match("adress", &keys), Some("address"));
        assert_eq!(best_match("ADDRESS", &keys), Some("address"));
        assert_eq!(best_match("arhc", &keys), Some("arch"));
        assert_eq!(best_match("gateway", &keys), None);
        assert_eq!(best_match("address", &["address-start", "os"]), Some("address-start"));
        assert_eq!(best_match("address-start", &["address", "os"]), Some("address"));
        assert_eq!(best_match(&"x".repeat(100_000), &keys), None);
    }
}
