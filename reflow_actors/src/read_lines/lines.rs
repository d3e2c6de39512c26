//! A line reader with bounded memory: a line longer than the limit is measured and skipped,
//! and only its start is ever held.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// A line as [`Lines::next`] found it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line<'a> {
    /// A line of at most the limit, without its `\n` or `\r\n`.
    Whole(&'a [u8]),
    /// A line over the limit: its first bytes (as many as the limit) and its length in
    /// bytes, without its `\n` or `\r\n`.
    TooLong { start: &'a [u8], len: u64 },
}

/// What one pass over a line saw.
#[derive(Debug, Default)]
struct Scan {
    /// Bytes before the `\n`, or before the end of the file.
    before: u64,
    /// Whether a `\n` ended the line (the last line of a file may have none).
    newline: bool,
    /// Whether the last byte before the `\n` was a `\r`.
    last_cr: bool,
}

/// Reads lines from `R`, holding at most `max + 1` bytes of any one of them.
#[derive(Debug)]
pub(super) struct Lines<R> {
    reader: R,
    max: usize,
    buf: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    /// Lines of `reader`, each of at most `max` bytes before its terminator.
    pub(super) fn new(reader: R, max: usize) -> Self {
        Lines {
            reader,
            max,
            buf: Vec::new(),
        }
    }

    /// The next line, or `None` at the end of the file.
    pub(super) async fn next(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let Some(scan) = self.scan().await? else {
            return Ok(None);
        };
        let len = scan.before - u64::from(scan.newline && scan.last_cr);
        match usize::try_from(len) {
            Ok(len) if len <= self.max => {
                self.buf.truncate(len);
                Ok(Some(Line::Whole(&self.buf)))
            }
            _ => {
                let start = &self.buf[..self.buf.len().min(self.max)];
                Ok(Some(Line::TooLong { start, len }))
            }
        }
    }

    /// Consumes one line and its `\n`, copying at most `max + 1` of its bytes into `buf`
    /// (one more than the limit, for a `\r` before the `\n`). `None` at the end of the file.
    async fn scan(&mut self) -> io::Result<Option<Scan>> {
        let cap = self.max.saturating_add(1);
        let mut scan = Scan::default();
        let mut read_any = false;
        loop {
            let chunk = self.reader.fill_buf().await?;
            if chunk.is_empty() {
                return Ok(read_any.then_some(scan));
            }
            read_any = true;
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = newline.unwrap_or(chunk.len());
            let room = cap.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&chunk[..part.min(room)]);
            if let Some(&last) = chunk[..part].last() {
                scan.last_cr = last == b'\r';
            }
            scan.before += part as u64;
            scan.newline = newline.is_some();
            self.reader.consume(part + usize::from(scan.newline));
            if scan.newline {
                return Ok(Some(scan));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    /// Every line of `input` read with the limit `max` through a buffer of `capacity`
    /// bytes, as `Ok(text)` or `Err((start, len))`.
    async fn read(input: &[u8], max: usize, capacity: usize) -> Vec<Result<String, (String, u64)>> {
        let mut lines = Lines::new(BufReader::with_capacity(capacity, input), max);
        let mut seen = Vec::new();
        while let Some(line) = lines.next().await.unwrap() {
            let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
            seen.push(match line {
                Line::Whole(raw) => Ok(text(raw)),
                Line::TooLong { start, len } => Err((text(start), len)),
            });
        }
        seen
    }

    #[tokio::test]
    async fn lines_within_the_limit_come_whole_without_terminator() {
        for capacity in [1, 2, 3, 8192] {
            let seen = read(b"abc\r\n\nxyz\r\nlast\r", 3, capacity).await;
            assert_eq!(
                seen,
                [
                    Ok("abc".into()),
                    Ok("".into()),
                    Ok("xyz".into()),
                    Err(("las".into(), 5))
                ],
                "capacity {capacity}"
            );
        }
    }

    #[tokio::test]
    async fn a_long_line_is_measured_skipped_and_reading_goes_on() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\r\nok\n");
        input.extend_from_slice(b"yyyyy");
        for capacity in [1, 7, 8192] {
            let seen = read(&input, 4, capacity).await;
            assert_eq!(
                seen,
                [
                    Err(("xxxx".into(), 10_000)),
                    Ok("ok".into()),
                    Err(("yyyy".into(), 5))
                ],
                "capacity {capacity}"
            );
        }
    }

    #[tokio::test]
    async fn memory_stays_within_the_limit() {
        let input = vec![b'z'; 100_000];
        let mut lines = Lines::new(BufReader::with_capacity(64, &input[..]), 10);
        assert!(matches!(
            lines.next().await.unwrap(),
            Some(Line::TooLong { len: 100_000, .. })
        ));
        assert!(lines.buf.capacity() < 1_000, "{}", lines.buf.capacity());
        assert_eq!(lines.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_limit_is_exact() {
        let seen = read(b"1234\n12345\n1234\r\n", 4, 2).await;
        assert_eq!(
            seen,
            [
                Ok("1234".into()),
                Err(("1234".into(), 5)),
                Ok("1234".into())
            ]
        );
        assert!(read(b"", 4, 2).await.is_empty());
    }
}
