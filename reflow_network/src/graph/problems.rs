//! Problems found while reading or validating a graph, each with where it is.

use std::fmt;

/// What kind of problem a graph has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file could not be read.
    Unreadable,
    /// The text is not valid JSON.
    Syntax,
    /// A field is missing or has the wrong type.
    Structure,
    /// Two processes share a name.
    DuplicateProcess,
    /// No component of that name is registered.
    UnknownComponent,
    /// The component has no such port.
    UnknownPort,
    /// A connection, IIP, export or group names a process that does not exist.
    MissingProcess,
    /// The component rejected the process's configuration.
    BadConfig,
}

/// One problem and its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// Where: `line 3, column 7`, `processes.print`, `connections[2].tgt`, ...
    pub location: String,
    /// A sentence saying what is wrong, with the names involved.
    pub message: String,
}

impl Problem {
    /// A problem of `kind` at `location`.
    pub fn new(kind: ProblemKind, location: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            kind,
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Every problem found in one graph. Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// The problems, in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a problem of `kind` is among them.
    pub fn has(&self, kind: ProblemKind) -> bool {
        self.0.iter().any(|p| p.kind == kind)
    }

    pub(crate) fn push(
        &mut self,
        kind: ProblemKind,
        location: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.0.push(Problem::new(kind, location, message));
    }

    /// `Ok(value)` when there is no problem, else `Err(self)`.
    pub(crate) fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} problem{}:", if n == 1 { "" } else { "s" })?;
        for problem in &self.0 {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
