//! Splitting text into chunks for embedding: by characters, words, sentences or
//! paragraphs (`split_by`, `chunk_size` and `chunk_overlap` counted in that unit, as
//! Mixpeek's `text_extractor` params are), never over the model's token budget. Without
//! `split_by`, sentences are packed up to the budget. No I/O.

/// A piece of the source text; offsets are in characters, end exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub tokens: usize,
    /// Longer than the budget (only with `split_by: none`): the model reads the start.
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitBy {
    Characters,
    Words,
    Sentences,
    Paragraphs,
    None,
}

impl SplitBy {
    pub fn parse(s: &str) -> Option<SplitBy> {
        Some(match s {
            "characters" => SplitBy::Characters,
            "words" => SplitBy::Words,
            "sentences" => SplitBy::Sentences,
            "paragraphs" => SplitBy::Paragraphs,
            "none" => SplitBy::None,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChunkParams {
    pub split_by: Option<SplitBy>,
    pub chunk_size: usize,
    pub chunk_overlap: usize,
}

impl Default for ChunkParams {
    fn default() -> Self {
        ChunkParams {
            split_by: None,
            chunk_size: 1000,
            chunk_overlap: 0,
        }
    }
}

/// Byte spans of the units of `text` (trimmed, never empty).
fn units(text: &str, by: SplitBy) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut push = |s: usize, e: usize| {
        let piece = &text[s..e];
        let lead = piece.len() - piece.trim_start().len();
        let trail = piece.len() - piece.trim_end().len();
        if s + lead < e - trail {
            spans.push((s + lead, e - trail));
        }
    };
    match by {
        SplitBy::None => push(0, text.len()),
        SplitBy::Characters => {
            for (i, c) in text.char_indices() {
                if !c.is_whitespace() {
                    push(i, i + c.len_utf8());
                }
            }
        }
        SplitBy::Words => {
            let mut start = None;
            for (i, c) in text.char_indices() {
                match (c.is_whitespace(), start) {
                    (true, Some(s)) => {
                        push(s, i);
                        start = None;
                    }
                    (false, None) => start = Some(i),
                    _ => {}
                }
            }
            if let Some(s) = start {
                push(s, text.len());
            }
        }
        SplitBy::Paragraphs => {
            let mut start = 0;
            let bytes = text.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'\n' {
                    // A blank line (only whitespace between two newlines) ends a paragraph.
                    let mut j = i + 1;
                    while j < bytes.len() && bytes[j] != b'\n' && bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if j < bytes.len() && bytes[j] == b'\n' {
                        push(start, i);
                        start = j + 1;
                        i = j + 1;
                        continue;
                    }
                }
                i += 1;
            }
            push(start, text.len());
        }
        SplitBy::Sentences => {
            let mut start = 0;
            let mut chars = text.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                let end = i + c.len_utf8();
                let terminal = matches!(c, '.' | '!' | '?' | '。' | '！' | '？');
                let boundary = match chars.peek() {
                    None => false,
                    Some(&(_, next)) => {
                        (terminal && (next.is_whitespace() || matches!(c, '。' | '！' | '？')))
                            || (c == '\n' && next == '\n')
                    }
                };
                if boundary {
                    push(start, end);
                    start = end;
                }
            }
            push(start, text.len());
        }
    }
    spans
}

/// Chunks of `text`. `count` is the model's token count; `budget` the most tokens a
/// chunk may have.
pub fn chunk(
    text: &str,
    params: &ChunkParams,
    budget: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Chunk> {
    let budget = budget.max(1);
    let mut spans: Vec<(usize, usize)> = match params.split_by {
        Some(SplitBy::None) => units(text, SplitBy::None),
        Some(by) => {
            let u = units(text, by);
            let size = params.chunk_size.max(1);
            let step = size.saturating_sub(params.chunk_overlap).max(1);
            let mut out = Vec::new();
            let mut i = 0;
            while i < u.len() {
                let last = (i + size).min(u.len()) - 1;
                out.push((u[i].0, u[last].1));
                if last + 1 == u.len() {
                    break;
                }
                i += step;
            }
            out
        }
        None => pack(
            text,
            &units(text, SplitBy::Sentences),
            budget,
            params.chunk_overlap,
            count,
        ),
    };
    if params.split_by != Some(SplitBy::None) {
        // A unit over the budget is cut at word boundaries rather than truncated unseen.
        spans = spans
            .into_iter()
            .flat_map(|(s, e)| {
                if count(&text[s..e]) <= budget {
                    vec![(s, e)]
                } else {
                    let words: Vec<(usize, usize)> = units(&text[s..e], SplitBy::Words)
                        .into_iter()
                        .map(|(a, b)| (s + a, s + b))
                        .collect();
                    pack(text, &words, budget, 0, count)
                }
            })
            .collect();
    }
    let mut char_at = CharOffsets::new(text);
    spans
        .into_iter()
        .map(|(s, e)| {
            let piece = &text[s..e];
            let tokens = count(piece);
            Chunk {
                text: piece.to_string(),
                start: char_at.of(s),
                end: char_at.of(e),
                tokens,
                truncated: tokens > budget,
            }
        })
        .collect()
}

/// Greedily joins consecutive spans while their text stays within `budget` tokens,
/// starting each new chunk with the last `overlap` spans of the previous one.
fn pack(
    text: &str,
    spans: &[(usize, usize)],
    budget: usize,
    overlap: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut first = 0;
    while first < spans.len() {
        let mut last = first;
        while last + 1 < spans.len() && count(&text[spans[first].0..spans[last + 1].1]) <= budget {
            last += 1;
        }
        out.push((spans[first].0, spans[last].1));
        if last + 1 == spans.len() {
            break;
        }
        first = (last + 1).saturating_sub(overlap).max(first + 1);
    }
    out
}

/// Byte offset → character offset, for offsets that only increase.
struct CharOffsets<'a> {
    text: &'a str,
    byte: usize,
    chars: usize,
}

impl<'a> CharOffsets<'a> {
    fn new(text: &'a str) -> Self {
        CharOffsets {
            text,
            byte: 0,
            chars: 0,
        }
    }

    fn of(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            return self.text[..byte].chars().count();
        }
        self.chars += self.text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn sentences_are_packed_up_to_the_budget() {
        let text = "One two three. Four five six. Seven eight nine. Ten.";
        let c = chunk(text, &ChunkParams::default(), 6, &words);
        let texts: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            ["One two three. Four five six.", "Seven eight nine. Ten."]
        );
        assert_eq!(&text[c[1].start..c[1].end], "Seven eight nine. Ten.");
        assert!(c.iter().all(|c| c.tokens <= 6 && !c.truncated));
    }

    #[test]
    fn split_by_units_with_overlap() {
        let text = "a b c d e";
        let p = ChunkParams {
            split_by: Some(SplitBy::Words),
            chunk_size: 2,
            chunk_overlap: 1,
        };
        let texts: Vec<String> = chunk(text, &p, 100, &words)
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(texts, ["a b", "b c", "c d", "d e"]);
        let p = ChunkParams {
            split_by: Some(SplitBy::Paragraphs),
            chunk_size: 1,
            chunk_overlap: 0,
        };
        let texts: Vec<String> = chunk("First para.\n\n  \nSecond\npara.", &p, 100, &words)
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(texts, ["First para.", "Second\npara."]);
    }

    #[test]
    fn oversized_units_are_cut_and_offsets_are_characters() {
        let text = "é ".repeat(10) + "end";
        let p = ChunkParams {
            split_by: Some(SplitBy::Sentences),
            ..Default::default()
        };
        let c = chunk(&text, &p, 4, &words);
        assert_eq!(c.len(), 3);
        assert!(c.iter().all(|c| c.tokens <= 4));
        let chars: Vec<char> = text.chars().collect();
        let last = c.last().unwrap();
        assert_eq!(
            chars[last.start..last.end].iter().collect::<String>(),
            last.text
        );
        let none = ChunkParams {
            split_by: Some(SplitBy::None),
            ..Default::default()
        };
        let one = chunk(&text, &none, 4, &words);
        assert_eq!(one.len(), 1);
        assert!(one[0].truncated);
        assert!(chunk("   ", &ChunkParams::default(), 4, &words).is_empty());
    }
}
