//! The three agents of the research pipeline, as pure functions.
//!
//! Each agent derives its result from the topic alone, with no network,
//! randomness or clock, so the same topic always yields the same report.

use serde::Serialize;

/// The angles the researcher covers, in order. The `findings` config entry
/// selects how many of them, counted from the first.
pub const ANGLES: [&str; 5] = [
    "background",
    "current practice",
    "open problems",
    "risks",
    "outlook",
];

/// Words too common to count as key terms.
const STOP_WORDS: [&str; 12] = [
    "the", "and", "for", "with", "about", "from", "into", "that", "this", "are", "how", "why",
];

/// How many key terms the analyst keeps.
const MAX_KEY_TERMS: usize = 5;

/// One finding of the researcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The finding's position, counted from 1.
    pub id: u32,
    /// The angle from [`ANGLES`] that the finding covers.
    pub angle: &'static str,
    /// One sentence about the topic from this angle.
    pub summary: String,
    /// Relevance from 50 to 99, derived from a hash of topic and angle.
    pub score: u32,
}

/// The analyst's view of the findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// Distinct topic words in order of appearance, without stop words.
    pub key_terms: Vec<String>,
    /// The angle of the finding with the highest score. On a tie, the earlier
    /// finding wins.
    pub strongest_angle: &'static str,
    /// The mean score of the findings, rounded down.
    pub average_score: u32,
    /// How many findings the analyst read.
    pub finding_count: usize,
}

/// Collects one finding per angle for the first `count` angles.
///
/// `count` must be from 1 to `ANGLES.len()`.
pub fn research(topic: &str, count: usize) -> Vec<Finding> {
    ANGLES
        .iter()
        .take(count)
        .zip(1..)
        .map(|(&angle, id)| Finding {
            id,
            angle,
            summary: summarize(topic, angle),
            score: score(topic, angle),
        })
        .collect()
}

/// Finds the key terms of `topic` and the strongest of `findings`.
///
/// `findings` must not be empty.
pub fn analyze(topic: &str, findings: &[Finding]) -> Analysis {
    let strongest = findings
        .iter()
        .reduce(|best, finding| {
            if finding.score > best.score {
                finding
            } else {
                best
            }
        })
        .expect("the researcher returns at least one finding");
    let total: u32 = findings.iter().map(|finding| finding.score).sum();

    Analysis {
        key_terms: key_terms(topic),
        strongest_angle: strongest.angle,
        average_score: total / findings.len() as u32,
        finding_count: findings.len(),
    }
}

/// Writes the report text from the findings and the analysis.
pub fn write(topic: &str, findings: &[Finding], analysis: &Analysis) -> String {
    let mut report = format!("Research report on {topic}\n\n");
    for finding in findings {
        report.push_str(&format!(
            "{}. {} (score {})\n",
            finding.id, finding.summary, finding.score
        ));
    }

    let terms = if analysis.key_terms.is_empty() {
        "none".to_owned()
    } else {
        analysis.key_terms.join(", ")
    };
    report.push_str(&format!(
        "\nThe strongest angle is {}, and the findings average a score of {}. Key terms: {terms}.",
        analysis.strongest_angle, analysis.average_score
    ));
    report
}

fn summarize(topic: &str, angle: &str) -> String {
    match angle {
        "background" => format!("Background: what {topic} is and where it came from."),
        "current practice" => format!("Current practice: how {topic} is used today."),
        "open problems" => {
            format!("Open problems: which questions about {topic} remain unanswered.")
        }
        "risks" => format!("Risks: what can go wrong with {topic}."),
        _ => format!("Outlook: where {topic} is likely to go next."),
    }
}

/// Maps topic and angle to a score from 50 to 99 with 32-bit FNV-1a, which
/// gives the same number on every platform and in every run.
fn score(topic: &str, angle: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in topic.bytes().chain([b'|']).chain(angle.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    50 + hash % 50
}

fn key_terms(topic: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let words = topic
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|word| word.chars().count() >= 3 && !STOP_WORDS.contains(&word.as_str()));

    for word in words {
        if !terms.contains(&word) {
            terms.push(word);
        }
        if terms.len() == MAX_KEY_TERMS {
            break;
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn research_covers_angles_in_order() {
        let findings = research("sandboxed plugins", 3);

        let angles: Vec<_> = findings.iter().map(|finding| finding.angle).collect();
        assert_eq!(angles, ["background", "current practice", "open problems"]);
        assert_eq!(findings[0].id, 1);
        assert_eq!(findings[2].id, 3);
        assert!(findings[1].summary.contains("sandboxed plugins"));
    }

    #[test]
    fn score_stays_in_range() {
        for topic in ["", "a", "WebAssembly", "sandboxed plugins for AI crews"] {
            for angle in ANGLES {
                let score = score(topic, angle);
                assert!((50..100).contains(&score), "{topic:?}/{angle}: {score}");
            }
        }
    }

    #[test]
    fn key_terms_drop_stop_words_and_repeats() {
        let terms = key_terms("The cost of WebAssembly, and the cost of JIT");

        assert_eq!(terms, ["cost", "webassembly", "jit"]);
    }

    #[test]
    fn key_terms_stop_at_maximum() {
        let terms = key_terms("alpha beta gamma delta epsilon zeta eta");

        assert_eq!(terms.len(), MAX_KEY_TERMS);
        assert_eq!(terms[4], "epsilon");
    }

    #[test]
    fn analyze_picks_highest_score() {
        let findings = vec![
            Finding {
                id: 1,
                angle: "background",
                summary: String::new(),
                score: 60,
            },
            Finding {
                id: 2,
                angle: "risks",
                summary: String::new(),
                score: 90,
            },
            Finding {
                id: 3,
                angle: "outlook",
                summary: String::new(),
                score: 90,
            },
        ];

        let analysis = analyze("risks", &findings);

        assert_eq!(analysis.strongest_angle, "risks");
        assert_eq!(analysis.average_score, 80);
        assert_eq!(analysis.finding_count, 3);
    }

    #[test]
    fn write_lists_every_finding() {
        let findings = research("edge caching", 2);
        let analysis = analyze("edge caching", &findings);

        let report = write("edge caching", &findings, &analysis);

        assert!(report.starts_with("Research report on edge caching\n\n1. Background"));
        assert!(report.contains("\n2. Current practice"));
        assert!(report.ends_with("Key terms: edge, caching."));
    }
}
