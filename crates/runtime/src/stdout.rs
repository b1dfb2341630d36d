//! What a command prints for its user on standard output. A reader that stops early
//! (`tidal simulate --runs 8 | head`) is not a failure: the rest of the output is dropped and
//! the command goes on and succeeds, where `print!` would panic with a backtrace.

use std::io::{self, Write};

/// Writes `text` to standard output and flushes it; a closed pipe is not an error, any other
/// failure says it was standard output that failed.
pub fn print(text: &str) -> io::Result<()> {
    write_all_or_closed(&mut io::stdout().lock(), text)
        .map_err(|e| io::Error::new(e.kind(), format!("writing to standard output: {e}")))
}

fn write_all_or_closed(out: &mut impl Write, text: &str) -> io::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails every write with `kind`.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_the_output_quietly_and_other_errors_surface() {
        let mut text = Vec::new();
        assert!(write_all_or_closed(&mut text, "table\n").is_ok());
        assert_eq!(text, b"table\n");
        assert!(write_all_or_closed(&mut Failing(io::ErrorKind::BrokenPipe), "x").is_ok());
        let full = write_all_or_closed(&mut Failing(io::ErrorKind::StorageFull), "x");
        assert_eq!(full.map_err(|e| e.kind()), Err(io::ErrorKind::StorageFull));
    }
}
