//! The policy parser: a tokenizer, then recursive descent over the grammar in the
//! [`policy`](super) module documentation. Nesting is bounded by [`MAX_POLICY_DEPTH`],
//! so no input can exhaust the stack.

use std::collections::HashSet;

use super::{
    GateKind, MAX_POLICY_ATTRIBUTES, MAX_POLICY_DEPTH, Node, PolicyError, is_attribute_char,
    is_keyword, validate_attribute,
};

/// A policy text that does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error} at column {column}")]
pub struct ParseError {
    /// Where the problem was found: 1-based, counted in characters (one past the last
    /// character when the text ended too early).
    pub column: usize,
    /// What is wrong.
    pub error: PolicyError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Comma,
    And,
    Or,
    Of,
    /// A run of digits; saturates at `usize::MAX`, which no threshold can be.
    Number(usize),
    Attribute(String),
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
            Token::Comma => "','".into(),
            Token::And => "AND".into(),
            Token::Or => "OR".into(),
            Token::Of => "'of'".into(),
            Token::Number(n) => format!("the number {n}"),
            Token::Attribute(name) => format!("the attribute {name:?}"),
            Token::End => "the end of the policy".into(),
        }
    }
}

struct Spanned {
    token: Token,
    column: usize,
}

fn error(column: usize, error: PolicyError) -> ParseError {
    ParseError { column, error }
}

fn tokenize(text: &str) -> Result<Vec<Spanned>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().zip(1..).peekable();
    let mut end = 1;
    while let Some((c, column)) = chars.next() {
        end = column + 1;
        let token = match c {
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            c if c.is_whitespace() => continue,
            c if is_attribute_char(c) => {
                let mut word = String::from(c);
                while let Some(&(next, next_column)) = chars.peek() {
                    if !is_attribute_char(next) {
                        break;
                    }
                    word.push(next);
                    end = next_column + 1;
                    chars.next();
                }
                classify(word, column)?
            }
            other => return Err(error(column, PolicyError::UnexpectedChar(other))),
        };
        tokens.push(Spanned { token, column });
    }
    tokens.push(Spanned {
        token: Token::End,
        column: end,
    });
    Ok(tokens)
}

fn classify(word: String, column: usize) -> Result<Token, ParseError> {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Token::Number(word.parse().unwrap_or(usize::MAX)));
    }
    if is_keyword(&word) {
        return Ok(match word.to_ascii_lowercase().as_str() {
            "and" => Token::And,
            "or" => Token::Or,
            _ => Token::Of,
        });
    }
    validate_attribute(&word).map_err(|e| error(column, e))?;
    Ok(Token::Attribute(word))
}

struct Parser {
    tokens: Vec<Spanned>,
    next: usize,
    /// Parentheses open around the current position.
    depth: usize,
    /// Attributes so far.
    seen: HashSet<String>,
}

const TERM: &str = "an attribute, '(' or a threshold";

/// Parses `text` into a policy tree.
pub(super) fn parse(text: &str) -> Result<Node, ParseError> {
    let tokens = tokenize(text)?;
    if tokens.len() == 1 {
        return Err(error(1, PolicyError::Empty));
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
        seen: HashSet::new(),
    };
    let node = parser.or()?;
    let Spanned { token, column } = parser.peek();
    if *token != Token::End {
        return Err(error(
            *column,
            PolicyError::Unexpected {
                expected: "AND, OR or the end of the policy",
                found: token.describe(),
            },
        ));
    }
    Ok(node)
}

impl Parser {
    fn peek(&self) -> &Spanned {
        // The tokenizer always ends the list with `End`, and `advance` never passes it.
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> (Token, usize) {
        let Spanned { token, column } = self.peek();
        let taken = (token.clone(), *column);
        if taken.0 != Token::End {
            self.next += 1;
        }
        taken
    }

    fn unexpected(expected: &'static str, token: &Token, column: usize) -> ParseError {
        let error_kind = match token {
            Token::End => PolicyError::UnexpectedEnd { expected },
            other => PolicyError::Unexpected {
                expected,
                found: other.describe(),
            },
        };
        error(column, error_kind)
    }

    fn expect(&mut self, wanted: Token, expected: &'static str) -> Result<usize, ParseError> {
        let (token, column) = self.advance();
        if token == wanted {
            Ok(column)
        } else {
            Err(Parser::unexpected(expected, &token, column))
        }
    }

    /// `or = and { "OR" and }`
    fn or(&mut self) -> Result<Node, ParseError> {
        let column = self.peek().column;
        let mut inputs = vec![self.and()?];
        while self.peek().token == Token::Or {
            self.advance();
            inputs.push(self.and()?);
        }
        Parser::chain(GateKind::Or, inputs, column)
    }

    /// `and = term { "AND" term }`
    fn and(&mut self) -> Result<Node, ParseError> {
        let column = self.peek().column;
        let mut inputs = vec![self.term()?];
        while self.peek().token == Token::And {
            self.advance();
            inputs.push(self.term()?);
        }
        Parser::chain(GateKind::And, inputs, column)
    }

    /// A chain of one term is the term itself.
    fn chain(kind: GateKind, mut inputs: Vec<Node>, column: usize) -> Result<Node, ParseError> {
        if inputs.len() == 1 {
            return Ok(inputs.remove(0));
        }
        Node::gate(kind, inputs).map_err(|e| error(column, e))
    }

    /// `term = attribute | "(" or ")" | threshold`
    fn term(&mut self) -> Result<Node, ParseError> {
        let (token, column) = self.advance();
        match token {
            Token::Attribute(name) => {
                if self.seen.len() == MAX_POLICY_ATTRIBUTES {
                    return Err(error(column, PolicyError::TooManyAttributes));
                }
                if !self.seen.insert(name.clone()) {
                    return Err(error(column, PolicyError::RepeatedAttribute(name)));
                }
                Ok(Node::Attribute(name))
            }
            Token::Open => {
                self.enter(column)?;
                let node = self.or()?;
                self.expect(Token::Close, "AND, OR or ')'")?;
                self.depth -= 1;
                Ok(node)
            }
            Token::Number(k) => self.threshold(k, column),
            other => Err(Parser::unexpected(TERM, &other, column)),
        }
    }

    /// `threshold = number "of" "(" or { "," or } ")"`, after the number.
    fn threshold(&mut self, k: usize, column: usize) -> Result<Node, ParseError> {
        self.expect(Token::Of, "'of' after a threshold")?;
        let open = self.expect(Token::Open, "'(' after 'of'")?;
        self.enter(open)?;
        let mut inputs = vec![self.or()?];
        loop {
            let (token, at) = self.advance();
            match token {
                Token::Comma => inputs.push(self.or()?),
                Token::Close => break,
                other => return Err(Parser::unexpected("AND, OR, ',' or ')'", &other, at)),
            }
        }
        self.depth -= 1;
        Node::gate(GateKind::Threshold(k), inputs).map_err(|e| error(column, e))
    }

    fn enter(&mut self, column: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_POLICY_DEPTH {
            return Err(error(column, PolicyError::TooDeep));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn fails(text: &str) -> ParseError {
        Policy::parse(text).unwrap_err()
    }

    #[test]
    fn errors_name_the_column() {
        let cases: &[(&str, usize, PolicyError)] = &[
            ("", 1, PolicyError::Empty),
            ("   ", 1, PolicyError::Empty),
            ("a AND", 6, PolicyError::UnexpectedEnd { expected: TERM }),
            (
                "a AND AND b",
                7,
                PolicyError::Unexpected {
                    expected: TERM,
                    found: "AND".into(),
                },
            ),
            (
                "a b",
                3,
                PolicyError::Unexpected {
                    expected: "AND, OR or the end of the policy",
                    found: "the attribute \"b\"".into(),
                },
            ),
            ("a & b", 3, PolicyError::UnexpectedChar('&')),
            (
                "(a OR b",
                8,
                PolicyError::UnexpectedEnd {
                    expected: "AND, OR or ')'",
                },
            ),
            (
                "x AND 4 of (a, b)",
                7,
                PolicyError::ThresholdOutOfRange { k: 4, n: 2 },
            ),
            (
                "0 of (a)",
                1,
                PolicyError::ThresholdOutOfRange { k: 0, n: 1 },
            ),
            (
                "2 (a, b)",
                3,
                PolicyError::Unexpected {
                    expected: "'of' after a threshold",
                    found: "'('".into(),
                },
            ),
            (
                "2 of (a, b",
                11,
                PolicyError::UnexpectedEnd {
                    expected: "AND, OR, ',' or ')'",
                },
            ),
            (
                "a OR 1x",
                6,
                PolicyError::InvalidAttribute {
                    attribute: "1x".into(),
                    reason: "an attribute starts with an ASCII letter",
                },
            ),
            (
                "y AND (y OR c)",
                8,
                PolicyError::RepeatedAttribute("y".into()),
            ),
            ("é AND a", 1, PolicyError::UnexpectedChar('é')),
            ("a AND é", 7, PolicyError::UnexpectedChar('é')),
        ];
        for (text, column, kind) in cases {
            let e = fails(text);
            assert_eq!((e.column, &e.error), (*column, kind), "{text:?}");
        }
        assert_eq!(
            fails("a AND AND b").to_string(),
            "expected an attribute, '(' or a threshold, found AND at column 7"
        );
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
        assert_eq!(fails(&deep).error, PolicyError::TooDeep);
        let deepest_allowed = format!("{}a{}", "(".repeat(32), ")".repeat(32));
        assert!(Policy::parse(&deepest_allowed).is_ok());
        let names: Vec<String> = (0..=MAX_POLICY_ATTRIBUTES)
            .map(|i| format!("a{i}"))
            .collect();
        let huge = names.join(" OR ");
        assert_eq!(fails(&huge).error, PolicyError::TooManyAttributes);
        let overflow = "99999999999999999999999 of (a)";
        assert_eq!(
            fails(overflow).error,
            PolicyError::ThresholdOutOfRange {
                k: usize::MAX,
                n: 1
            }
        );
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(
            Policy::parse("a and b Or 2 OF (c, d, e)").unwrap(),
            Policy::parse("(a AND b) OR 2 of (c, d, e)").unwrap()
        );
    }
}
